"""Ledger movements. Each takes the (project, GPU type) allocation row lock, never lets the
available balance go below zero, and is idempotent by key: a replay with the same figures
returns the first entry (``created`` False); a key reused for other figures is refused."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from booking.ledger.selectors import Balance, balance_of
from booking.models import Allocation, GpuType, LedgerEntry, LedgerEntryKind, Project, ProjectState
from stargate_portal.errors import Conflict, ValidationFailed

HOURS = Decimal("0.0001")


@dataclass(frozen=True)
class Movement:
    entry: LedgerEntry
    created: bool


def ledger_grant(
    *,
    project: Project,
    gpu_type: GpuType,
    gpu_hours: Decimal,
    key: str,
    actor: User | None = None,
    reason: str = "",
) -> Movement:
    """Add granted hours (an award or a top-up)."""
    return _move(project, gpu_type, LedgerEntryKind.GRANT, gpu_hours, key, actor, reason)


def ledger_adjust(
    *,
    project: Project,
    gpu_type: GpuType,
    gpu_hours: Decimal,
    key: str,
    actor: User,
    reason: str,
) -> Movement:
    """Correct granted hours up or down (staff, with a reason); never below what is used."""
    if not reason.strip():
        raise ValidationFailed.on_field("reason", _("An adjustment needs a reason."))
    return _move(project, gpu_type, LedgerEntryKind.ADJUSTMENT, gpu_hours, key, actor, reason)


def ledger_hold(
    *,
    project: Project,
    gpu_type: GpuType,
    gpu_hours: Decimal,
    key: str,
    actor: User | None = None,
    reason: str = "",
) -> Movement:
    """Reserve hours for work about to run (a job's gpus x walltime, a booking)."""
    return _move(project, gpu_type, LedgerEntryKind.HOLD, gpu_hours, key, actor, reason)


def ledger_release(
    *,
    project: Project,
    gpu_type: GpuType,
    gpu_hours: Decimal,
    key: str,
    actor: User | None = None,
    reason: str = "",
) -> Movement:
    """Give back held hours (``gpu_hours`` is the positive amount released)."""
    return _move(project, gpu_type, LedgerEntryKind.RELEASE, -gpu_hours, key, actor, reason)


def ledger_charge(
    *,
    project: Project,
    gpu_type: GpuType,
    gpu_hours: Decimal,
    key: str,
    actor: User | None = None,
    reason: str = "",
) -> Movement:
    """Spend hours for work done."""
    return _move(project, gpu_type, LedgerEntryKind.CHARGE, gpu_hours, key, actor, reason)


def ledger_refund(
    *,
    project: Project,
    gpu_type: GpuType,
    gpu_hours: Decimal,
    key: str,
    actor: User | None = None,
    reason: str = "",
) -> Movement:
    """Give back charged hours (``gpu_hours`` is the positive amount refunded)."""
    return _move(project, gpu_type, LedgerEntryKind.REFUND, -gpu_hours, key, actor, reason)


def _move(
    project: Project,
    gpu_type: GpuType,
    kind: str,
    gpu_hours: Decimal,
    key: str,
    actor: User | None,
    reason: str,
) -> Movement:
    amount = Decimal(gpu_hours).quantize(HOURS)
    if amount == 0 or (kind != LedgerEntryKind.ADJUSTMENT and amount * _sign(kind) < 0):
        raise ValidationFailed.on_field("gpu_hours", _("The amount must be a positive number."))
    with transaction.atomic():
        allocation = _lock_allocation(project, gpu_type)
        replay = _replay(key, project, gpu_type, kind, amount)
        if replay is not None:
            return Movement(replay, created=False)
        _check_allowed(allocation, kind, amount, balance_of(project=project, gpu_type=gpu_type))
        entry = LedgerEntry.objects.create(
            project=project,
            gpu_type=gpu_type,
            kind=kind,
            gpu_hours=amount,
            idempotency_key=key,
            actor=actor,
            reason=reason[:500],
        )
        if kind in (LedgerEntryKind.HOLD, LedgerEntryKind.CHARGE):
            _check_low_balance_after_commit(allocation.pk)
    return Movement(entry, created=True)


def _check_low_balance_after_commit(allocation_id: int) -> None:
    from booking.ledger.tasks import allocation_low_balance_check

    transaction.on_commit(lambda: allocation_low_balance_check.delay(allocation_id))


def _sign(kind: str) -> int:
    return -1 if kind in (LedgerEntryKind.RELEASE, LedgerEntryKind.REFUND) else 1


def _lock_allocation(project: Project, gpu_type: GpuType) -> Allocation:
    allocation = (
        Allocation.objects.select_for_update()
        .select_related("project")
        .filter(project=project, gpu_type=gpu_type)
        .first()
    )
    if allocation is None:
        raise Conflict(
            _("The project has no allocation for %(gpu)s.") % {"gpu": gpu_type.name},
            code="no_allocation",
        )
    return allocation


def _replay(
    key: str, project: Project, gpu_type: GpuType, kind: str, amount: Decimal
) -> LedgerEntry | None:
    entry = LedgerEntry.objects.filter(idempotency_key=key).first()
    if entry is None:
        return None
    same = (entry.project_id, entry.gpu_type_id, entry.kind, entry.gpu_hours) == (
        project.pk,
        gpu_type.pk,
        kind,
        amount,
    )
    if not same:
        raise Conflict(
            _("This idempotency key was already used for a different movement."),
            code="ledger_key_conflict",
            details={"idempotency_key": key, "entry_id": entry.pk},
        )
    return entry


def _check_allowed(allocation: Allocation, kind: str, amount: Decimal, balance: Balance) -> None:
    spends = kind in (LedgerEntryKind.HOLD, LedgerEntryKind.CHARGE)
    if spends and allocation.project.state == ProjectState.SUSPENDED:
        raise Conflict(_("The project is suspended."), code="project_suspended")
    if spends and not allocation.starts_on <= _today() <= allocation.ends_on:
        raise Conflict(_("The allocation is not active today."), code="allocation_inactive")
    if kind == LedgerEntryKind.RELEASE and -amount > balance.held:
        raise Conflict(_("Cannot release more than is held."), code="release_exceeds_hold")
    if kind == LedgerEntryKind.REFUND and -amount > balance.charged:
        raise Conflict(_("Cannot refund more than was charged."), code="refund_exceeds_charge")
    takes = spends or (kind == LedgerEntryKind.ADJUSTMENT and amount < 0)
    if takes and abs(amount) > balance.available:
        raise Conflict(
            _("Not enough GPU-hours: %(need)s needed, %(left)s available.")
            % {"need": abs(amount), "left": balance.available},
            code="insufficient_gpu_hours",
            details={
                "requested_gpu_hours": str(abs(amount)),
                "available_gpu_hours": str(balance.available),
            },
        )


def _today() -> date:
    return timezone.localdate()
