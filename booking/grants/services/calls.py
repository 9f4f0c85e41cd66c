"""Staff writes on calls: create, edit, open, close."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from booking.models import Call, CallKind, CallPool, CallState, GpuType, ReviewCriterion
from booking.models.calls import DEFAULT_CRITERIA
from stargate_portal.errors import Conflict, ValidationFailed
from stargate_portal.permissions import require_staff


def call_create(
    *,
    staff: User,
    title: str,
    description: str,
    kind: str = CallKind.STANDARD,
    opens_at: datetime,
    closes_at: datetime | None,
    allowed_tiers: list[int],
    max_request_gpu_hours: Decimal,
    pools: dict[str, Decimal],
    criteria: list[tuple[str, int]] | None = None,
) -> Call:
    """Create a draft call with its GPU pools (by GPU type name) and weighted criteria."""
    require_staff(staff, _("Only staff manage calls."))
    fields = {
        "title": title.strip(),
        "description": description,
        "kind": kind,
        "opens_at": opens_at,
        "closes_at": closes_at,
        "allowed_tiers": sorted(set(allowed_tiers)),
        "max_request_gpu_hours": Decimal(max_request_gpu_hours),
    }
    _validate_call(fields, pools)
    with transaction.atomic():
        call = Call.objects.create(created_by=staff, **fields)
        _set_pools(call, pools)
        weighted = criteria or [(str(name), weight) for name, weight in DEFAULT_CRITERIA]
        ReviewCriterion.objects.bulk_create(
            ReviewCriterion(call=call, name=name, weight=weight, position=i)
            for i, (name, weight) in enumerate(weighted)
        )
    return call


def call_update(
    *, call: Call, staff: User, pools: dict[str, Decimal] | None = None, **changes: Any
) -> Call:
    """Edit a call that is not closed; a pool never shrinks below what it has awarded."""
    require_staff(staff, _("Only staff manage calls."))
    allowed = {
        "title",
        "description",
        "opens_at",
        "closes_at",
        "allowed_tiers",
        "max_request_gpu_hours",
    }
    if set(changes) - allowed:
        raise ValueError(f"not editable: {sorted(set(changes) - allowed)}")
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.state == CallState.CLOSED:
            raise Conflict(_("A closed call cannot be edited."), code="call_closed")
        for field, value in changes.items():
            setattr(locked, field, value)
        current = {p.gpu_type.name: p.gpu_hours for p in locked.pools.select_related("gpu_type")}
        _validate_call(_fields_of(locked), pools if pools is not None else current)
        locked.save()
        if pools is not None:
            _set_pools(locked, pools)
    return locked


def call_open(*, call: Call, staff: User) -> Call:
    return _set_state(call, staff, CallState.OPEN, from_states=(CallState.DRAFT, CallState.CLOSED))


def call_close(*, call: Call, staff: User) -> Call:
    return _set_state(call, staff, CallState.CLOSED, from_states=(CallState.OPEN,))


def _set_state(call: Call, staff: User, state: str, *, from_states: tuple[str, ...]) -> Call:
    require_staff(staff, _("Only staff manage calls."))
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.state not in from_states:
            raise Conflict(
                _("The call is %(state)s.") % {"state": locked.get_state_display()},
                code="invalid_call_state",
            )
        locked.state = state
        locked.save(update_fields=["state"])
    return locked


def _fields_of(call: Call) -> dict[str, Any]:
    return {
        "kind": call.kind,
        "opens_at": call.opens_at,
        "closes_at": call.closes_at,
        "allowed_tiers": call.allowed_tiers,
        "max_request_gpu_hours": call.max_request_gpu_hours,
        "title": call.title,
    }


def _validate_call(fields: dict[str, Any], pools: dict[str, Decimal]) -> None:
    errors: dict[str, list[str]] = {}
    if not fields.get("title"):
        errors["title"] = [_("Give the call a title.")]
    closes_at = fields.get("closes_at")
    if fields["kind"] == CallKind.STANDARD and closes_at is None:
        errors["closes_at"] = [_("A call for proposals needs a closing time.")]
    if closes_at is not None and closes_at <= fields["opens_at"]:
        errors["closes_at"] = [_("The call must close after it opens.")]
    tiers = fields.get("allowed_tiers") or []
    if not tiers or not set(tiers) <= {1, 2, 3, 4}:
        errors["allowed_tiers"] = [_("Choose one or more tiers from 1 to 4.")]
    cap = Decimal(fields["max_request_gpu_hours"])
    rolling_cap = settings.ROLLING_CALL_MAX_REQUEST_GPU_HOURS
    if cap <= 0 or (fields["kind"] == CallKind.ROLLING and cap > rolling_cap):
        errors["max_request_gpu_hours"] = [
            _("Must be positive, and at most %(cap)s GPU-hours for rolling access.")
            % {"cap": rolling_cap}
        ]
    _validate_pools(pools, errors)
    if errors:
        raise ValidationFailed(_("The call is invalid; see details."), details=errors)


def _validate_pools(pools: dict[str, Decimal], errors: dict[str, list[str]]) -> None:
    known = set(GpuType.objects.filter(name__in=list(pools)).values_list("name", flat=True))
    if not pools:
        errors["pools"] = [_("Offer at least one GPU type.")]
    elif unknown := sorted(set(pools) - known):
        errors["pools"] = [_("Unknown GPU type: %(names)s.") % {"names": ", ".join(unknown)}]
    elif any(Decimal(h) <= 0 for h in pools.values()):
        errors["pools"] = [_("Every pool must offer a positive number of GPU-hours.")]


def _set_pools(call: Call, pools: dict[str, Decimal]) -> None:
    types = {t.name: t for t in GpuType.objects.filter(name__in=list(pools))}
    existing = {
        p.gpu_type.name: p
        for p in CallPool.objects.select_for_update().filter(call=call).select_related("gpu_type")
    }
    for name, pool in existing.items():
        if name not in pools and pool.awarded_gpu_hours > 0:
            raise Conflict(
                _("A pool that has awarded hours cannot be removed."), code="pool_in_use"
            )
        if name not in pools:
            pool.delete()
    for name, hours in pools.items():
        pool = existing.get(name) or CallPool(call=call, gpu_type=types[name])
        if Decimal(hours) < pool.awarded_gpu_hours:
            raise ValidationFailed.on_field(
                "pools",
                _("%(name)s: below the %(h)s GPU-hours already awarded.")
                % {"name": name, "h": pool.awarded_gpu_hours},
            )
        pool.gpu_hours = Decimal(hours)
        pool.save()
