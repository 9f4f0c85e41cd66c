"""Ledger movements. Each takes the (project, GPU type) allocation row lock, never lets the
available balance go below zero, and is idempotent by key: a replay with the same figures
returns the first entry (``created`` False); a key reused for other figures is refused.

``ledger_hold_many`` places the holds of a whole admission cycle with the same rules (they are
the same functions) in a handful of queries instead of five per hold.
"""

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from booking.cluster.clock import cluster_now, cluster_today
from booking.ledger.low_balance import low_balance_check_needed
from booking.ledger.metrics import movements_count
from booking.ledger.selectors import Balance, balance_of, balances_by_allocation
from booking.ledger.signals import gpu_hours_granted
from booking.ledger.tasks import allocation_low_balance_check
from booking.models import Allocation, GpuType, LedgerEntry, LedgerEntryKind, Project, ProjectState
from booking.scheduler.hours import quantise_hours
from stargate_portal.errors import Conflict, ValidationFailed
from stargate_portal.task_enqueue import task_enqueue_on_commit

Pair = tuple[int, int]
"""``(project id, GPU type id)``: one allocation."""


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
    at: datetime | None = None,
) -> Movement:
    """Reserve hours for work about to run (a job's gpus x walltime, a booking). ``at`` is
    the cluster time the caller already read (one clock read less), else it is read here."""
    return _move(project, gpu_type, LedgerEntryKind.HOLD, gpu_hours, key, actor, reason, at)


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


@dataclass(frozen=True, slots=True)
class HoldRequest:
    """One hold of ``ledger_hold_many``; ``ref`` is the caller's id for it (a job's)."""

    ref: int
    project_id: int
    gpu_type_id: int
    gpu_hours: Decimal
    key: str
    reason: str = ""


def ledger_hold_many(
    requests: Sequence[HoldRequest], *, at: datetime | None = None
) -> dict[int, str]:
    """Hold each request's hours, in order (earlier requests are served first when hours run
    short). Returns the refused requests' ``ref`` with the refusal's code. ``at`` is the
    cluster time of the holds (default: read from the cluster)."""
    if not requests:
        return {}
    at = at or cluster_now()
    today = cluster_today(at)
    pairs = {(r.project_id, r.gpu_type_id) for r in requests}
    allocations = _lock_allocations(pairs)
    balances = balances_by_allocation(pairs)
    earlier = _entries_by_key([r.key for r in requests])
    refused: dict[int, str] = {}
    entries: list[LedgerEntry] = []
    for request in requests:
        pair = (request.project_id, request.gpu_type_id)
        amount = _amount(LedgerEntryKind.HOLD, request.gpu_hours)
        try:
            allocation = _allocation(allocations, pair)
            if request.key in earlier:
                _check_replay(earlier[request.key], pair, LedgerEntryKind.HOLD, amount)
                continue
            _check_allowed(allocation, LedgerEntryKind.HOLD, amount, balances[pair], today)
        except Conflict as refusal:
            refused[request.ref] = refusal.code
            continue
        balances[pair] = balances[pair].plus(LedgerEntryKind.HOLD, amount)
        entry = LedgerEntry(
            project_id=request.project_id,
            gpu_type_id=request.gpu_type_id,
            kind=LedgerEntryKind.HOLD,
            gpu_hours=amount,
            idempotency_key=request.key,
            reason=request.reason[:500],
            created_at=at,
        )
        entries.append(entry)
        # A key met again later in the batch is a replay or a conflict, as on the ledger.
        earlier[request.key] = entry
    LedgerEntry.objects.bulk_create(entries, batch_size=1000)
    movements_count(entries)
    for pair in {(entry.project_id, entry.gpu_type_id) for entry in entries}:
        _queue_low_balance_check(allocations[pair], balances[pair])
    return refused


@dataclass(frozen=True, slots=True)
class SettleRequest:
    """One settlement of ``ledger_settle_many``: release ``release_gpu_hours`` of the hold
    under ``hold_key`` and charge ``charge_gpu_hours`` (0: nothing); ``ref`` is the caller's
    id for it (a job's). The amounts are the caller's rule (``booking.jobs.settlement``)."""

    ref: int
    project_id: int
    gpu_type_id: int
    hold_key: str
    release_gpu_hours: Decimal
    release_key: str
    charge_gpu_hours: Decimal
    charge_key: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Settled:
    """What ``ledger_settle_many`` did for one request: nothing when no hold was found, else
    the release, and the charge unless refused (``charge_refused`` is the refusal's code)."""

    held: bool
    charge_refused: str = ""


def ledger_settle_many(
    requests: Sequence[SettleRequest], *, at: datetime | None = None
) -> dict[int, Settled]:
    """Release and charge many holds at once (reconcile's finished jobs): the same checks as
    ``ledger_release`` and ``ledger_charge``, one lock of the allocations, one insert. Call
    inside the caller's transaction; replays of keys already on the ledger are skipped."""
    if not requests:
        return {}
    at = at or cluster_now()
    today = cluster_today(at)
    pairs = {(r.project_id, r.gpu_type_id) for r in requests}
    allocations = _lock_allocations(pairs)
    balances = balances_by_allocation(pairs)
    keys = [k for r in requests for k in (r.hold_key, r.release_key, r.charge_key)]
    earlier = _entries_by_key(keys)
    entries: list[LedgerEntry] = []
    settled: dict[int, Settled] = {}
    for request in requests:
        if request.hold_key not in earlier:
            settled[request.ref] = Settled(held=False)
            continue
        pair = (request.project_id, request.gpu_type_id)
        moves = [(LedgerEntryKind.RELEASE, -request.release_gpu_hours, request.release_key)]
        if request.charge_gpu_hours > 0:
            moves.append((LedgerEntryKind.CHARGE, request.charge_gpu_hours, request.charge_key))
        refused = ""
        for kind, gpu_hours, key in moves:
            try:
                amount = _amount(kind, gpu_hours)
                if key in earlier:
                    _check_replay(earlier[key], pair, kind, amount)
                    continue
                _check_allowed(_allocation(allocations, pair), kind, amount, balances[pair], today)
            except Conflict as refusal:
                refused = refusal.code
                continue
            balances[pair] = balances[pair].plus(kind, amount)
            entry = LedgerEntry(
                project_id=request.project_id,
                gpu_type_id=request.gpu_type_id,
                kind=kind,
                gpu_hours=amount,
                idempotency_key=key,
                reason=request.reason[:500],
                created_at=at,
            )
            entries.append(entry)
            earlier[key] = entry
        settled[request.ref] = Settled(held=True, charge_refused=refused)
    LedgerEntry.objects.bulk_create(entries, batch_size=1000)
    movements_count(entries)
    for pair in {(entry.project_id, entry.gpu_type_id) for entry in entries}:
        _queue_low_balance_check(allocations[pair], balances[pair])
    return settled


def _move(
    project: Project,
    gpu_type: GpuType,
    kind: str,
    gpu_hours: Decimal,
    key: str,
    actor: User | None,
    reason: str,
    at: datetime | None = None,
) -> Movement:
    amount = _amount(kind, gpu_hours)
    pair = (project.pk, gpu_type.pk)
    at = at or cluster_now()
    with _transaction():
        allocation = _allocation(_lock_allocations({pair}), pair)
        earlier = _entries_by_key([key]).get(key)
        if earlier is not None:
            _check_replay(earlier, pair, kind, amount)
            return Movement(earlier, created=False)
        balance = balance_of(project=project, gpu_type=gpu_type)
        _check_allowed(allocation, kind, amount, balance, cluster_today(at))
        entry = LedgerEntry.objects.create(
            project=project,
            gpu_type=gpu_type,
            kind=kind,
            gpu_hours=amount,
            idempotency_key=key,
            actor=actor,
            reason=reason[:500],
            created_at=at,
        )
        movements_count([entry])
        _queue_low_balance_check(allocation, balance.plus(kind, amount))
        if kind in (LedgerEntryKind.GRANT, LedgerEntryKind.ADJUSTMENT) and amount > 0:
            gpu_hours_granted.send(sender=LedgerEntry, project=project, gpu_type=gpu_type)
    return Movement(entry, created=True)


def _transaction() -> AbstractContextManager[object]:
    """A transaction for one movement, or none inside the caller's: every refusal is raised
    before the movement writes, so the caller's transaction needs no savepoint (two round
    trips) to stay usable after one; a database error aborts the caller's transaction, as it
    must, since the allocation row lock is the caller's until it commits."""
    return nullcontext() if connection.in_atomic_block else transaction.atomic()


def _amount(kind: str, gpu_hours: Decimal) -> Decimal:
    """The amount as stored: in the ledger's unit, signed by kind (releases and refunds < 0)."""
    amount = quantise_hours(gpu_hours)
    if amount == 0 or (kind != LedgerEntryKind.ADJUSTMENT and amount * _sign(kind) < 0):
        raise ValidationFailed.on_field("gpu_hours", _("The amount must be a positive number."))
    return amount


def _sign(kind: str) -> int:
    return -1 if kind in (LedgerEntryKind.RELEASE, LedgerEntryKind.REFUND) else 1


def _queue_low_balance_check(allocation: Allocation, balance: Balance) -> None:
    """After the commit, when the balance crossed the low-balance line either way."""
    if low_balance_check_needed(allocation, balance):
        task_enqueue_on_commit(allocation_low_balance_check, allocation.pk)


def _lock_allocations(pairs: Collection[Pair]) -> dict[Pair, Allocation]:
    """Lock the allocation rows, in primary-key order so concurrent writers cannot deadlock."""
    projects = {project for project, _type in pairs}
    types = {gpu_type for _project, gpu_type in pairs}
    locked = (
        Allocation.objects.select_for_update(of=("self",))
        .select_related("project", "gpu_type")
        .filter(project_id__in=projects, gpu_type_id__in=types)
        .order_by("pk")
    )
    return {
        (a.project_id, a.gpu_type_id): a for a in locked if (a.project_id, a.gpu_type_id) in pairs
    }


def _allocation(allocations: dict[Pair, Allocation], pair: Pair) -> Allocation:
    allocation = allocations.get(pair)
    if allocation is None:
        name = GpuType.objects.filter(pk=pair[1]).values_list("name", flat=True).first()
        raise Conflict(
            _("The project has no allocation for %(gpu)s.") % {"gpu": name},
            code="no_allocation",
        )
    return allocation


def _entries_by_key(keys: Collection[str]) -> dict[str, LedgerEntry]:
    return {e.idempotency_key: e for e in LedgerEntry.objects.filter(idempotency_key__in=keys)}


def _check_replay(entry: LedgerEntry, pair: Pair, kind: str, amount: Decimal) -> None:
    """A key already on the ledger is a replay only for the very same movement."""
    if (entry.project_id, entry.gpu_type_id, entry.kind, entry.gpu_hours) != (*pair, kind, amount):
        raise Conflict(
            _("This idempotency key was already used for a different movement."),
            code="ledger_key_conflict",
            details={"idempotency_key": entry.idempotency_key, "entry_id": entry.pk},
        )


def _check_allowed(
    allocation: Allocation, kind: str, amount: Decimal, balance: Balance, today: date
) -> None:
    spends = kind in (LedgerEntryKind.HOLD, LedgerEntryKind.CHARGE)
    if spends and allocation.project.state == ProjectState.SUSPENDED:
        raise Conflict(_("The project is suspended."), code="project_suspended")
    if spends and not allocation.starts_on <= today <= allocation.ends_on:
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
