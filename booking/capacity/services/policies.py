"""Staff change a GPU type's booking rules (audited); the node counts follow the cluster."""

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from booking.capacity.policies import policy_for
from booking.models import CapacityAuditAction, CapacityAuditEntry, CapacityPolicy, GpuType
from stargate_portal.errors import ValidationFailed
from stargate_portal.permissions import require_staff

EDITABLE = (
    "pool_share",
    "horizon_days_tier_1",
    "horizon_days_tier_2",
    "horizon_days_tier_3",
    "horizon_days_tier_4",
)


def capacity_policy_update(
    *, gpu_type: GpuType, staff: User, reason: str, changes: dict[str, Any]
) -> CapacityPolicy:
    """Set the bookable share and the horizons per tier; bookings already made stay."""
    require_staff(staff)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed.on_field("reason", _("Say why you change the rules."))
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(_("Unknown settings: %(s)s") % {"s": ", ".join(sorted(unknown))})
    _check(changes)
    policy_for(gpu_type)
    with transaction.atomic():
        policy = CapacityPolicy.objects.select_for_update().get(gpu_type=gpu_type)
        before = {name: _plain(getattr(policy, name)) for name in EDITABLE}
        for name, value in changes.items():
            setattr(policy, name, value)
        after = {name: _plain(getattr(policy, name)) for name in EDITABLE}
        if after == before:
            return policy
        policy.save()
        CapacityAuditEntry.objects.create(
            gpu_type=gpu_type,
            action=CapacityAuditAction.POLICY_CHANGED,
            actor=staff,
            reason=reason,
            before=before,
            after=after,
        )
    return policy


def _check(changes: dict[str, Any]) -> None:
    share = changes.get("pool_share")
    if share is not None and not Decimal(0) <= Decimal(share) <= Decimal(1):
        raise ValidationFailed.on_field("pool_share", _("A share between 0 and 1."))
    for name, days in changes.items():
        if name.startswith("horizon_days") and not 1 <= int(days) <= 365:
            raise ValidationFailed.on_field(name, _("Between 1 and 365 days."))


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value
