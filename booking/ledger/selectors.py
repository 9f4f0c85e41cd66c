"""Balances derived from the ledger (the ledger is the truth), and the other reads of it:
daily charges, burn rates, a job's entries.

Every balance comes from ``balances``: one aggregate query, grouped by whatever the caller
needs (one allocation, many allocations, the projects of a page). The balance of a few
allocations (a request's) adds the entries after each one's checkpoint to it
(``booking.ledger.checkpoints``: running totals folded under the allocation lock, derived
data that changes no balance), so it does not grow with the allocation's history.
"""

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, Func, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncHour

from booking.models import (
    Allocation,
    GpuType,
    Job,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerEntryKind,
    Project,
)
from booking.scheduler.hours import ZERO, quantise_hours

BALANCE_FIELDS = ("granted", "held", "charged")
CHECKPOINTED_PAIRS_MAX = 50
"""Up to this many allocations, a balance read uses their checkpoints (a request's one or
few); beyond, the whole histories are summed in one grouped query (batches)."""
CHECKPOINTED_PROJECTS_MAX = 50
"""The same for whole projects (a page of projects, every GPU type of each), up to
``CHECKPOINTED_PROJECT_PAIRS_MAX`` allocations."""
CHECKPOINTED_PROJECT_PAIRS_MAX = 150
WEEK = timedelta(days=7)
KIND_BALANCE_FIELD = {
    LedgerEntryKind.GRANT: "granted",
    LedgerEntryKind.ADJUSTMENT: "granted",
    LedgerEntryKind.HOLD: "held",
    LedgerEntryKind.RELEASE: "held",
    LedgerEntryKind.CHARGE: "charged",
    LedgerEntryKind.REFUND: "charged",
}
"""Which total each kind of entry moves (a release and a refund are stored negative)."""


@dataclass(frozen=True)
class Balance:
    granted: Decimal = ZERO
    held: Decimal = ZERO
    charged: Decimal = ZERO

    @property
    def available(self) -> Decimal:
        """What a new hold may take now: granted - charged - held."""
        return self.granted - self.charged - self.held

    @property
    def unspent(self) -> Decimal:
        """What is not yet charged: the most a hold can ever get, once other holds end."""
        return self.granted - self.charged

    def __add__(self, other: "Balance") -> "Balance":
        return Balance(
            self.granted + other.granted, self.held + other.held, self.charged + other.charged
        )

    def plus(self, kind: str, gpu_hours: Decimal) -> "Balance":
        """This balance after one more entry of ``kind`` (signed as stored)."""
        moved = KIND_BALANCE_FIELD[LedgerEntryKind(kind)]
        totals = {name: getattr(self, name) for name in BALANCE_FIELDS}
        totals[moved] += gpu_hours
        return Balance(**totals)


def gpu_hours_sum(condition: Q) -> Coalesce:
    """The sum of the entries' GPU-hours matching ``condition`` (zero when none), as stored."""
    field = DecimalField(max_digits=14, decimal_places=4)
    return Coalesce(Sum("gpu_hours", filter=condition), Value(ZERO), output_field=field)


def balance_sums() -> dict[str, Coalesce]:
    """The three totals of a balance as aggregates over ledger entries."""
    kinds: dict[str, list[str]] = defaultdict(list)
    for kind, name in KIND_BALANCE_FIELD.items():
        kinds[name].append(kind)
    return {name: gpu_hours_sum(Q(kind__in=kinds[name])) for name in BALANCE_FIELDS}


def balance_from_row(row: Mapping[str, Any]) -> Balance:
    """A balance from a row holding the three totals."""
    # SQLite returns unscaled decimals; quantise so every backend reports the same figures.
    return Balance(*(quantise_hours(row[name]) for name in BALANCE_FIELDS))


def balances(entries: QuerySet[LedgerEntry], *group_by: str) -> dict[tuple[Any, ...], Balance]:
    """Balances of ``entries`` per value of the ``group_by`` fields. One query."""
    rows = entries.order_by().values(*group_by).annotate(**balance_sums())
    return {tuple(row[name] for name in group_by): balance_from_row(row) for row in rows}


def balances_by_project(project_ids: Collection[int]) -> dict[int, dict[str, Balance]]:
    """Project id → GPU type name → balance, for many projects.

    Up to ``CHECKPOINTED_PROJECTS_MAX`` projects (a page of them, one project's page): their
    allocations, then ``balances_by_allocation`` (checkpoints and the entries after them; three
    queries, whatever the projects' histories). Beyond (a batch): one grouped sum of the whole
    histories."""
    ids = list(project_ids)
    result: dict[int, dict[str, Balance]] = {pk: {} for pk in ids}
    if len(ids) > CHECKPOINTED_PROJECTS_MAX:
        entries = LedgerEntry.objects.filter(project_id__in=ids)
        for (project_id, name), balance in balances(
            entries, "project_id", "gpu_type__name"
        ).items():
            result[project_id][name] = balance
        return result
    names = {
        (project_id, gpu_type_id): name
        for project_id, gpu_type_id, name in Allocation.objects.filter(
            project_id__in=ids
        ).values_list("project_id", "gpu_type_id", "gpu_type__name")
    }
    if names:  # every ledger entry belongs to an allocation (``ledger.services``)
        found = balances_by_allocation(names, checkpointed_max=CHECKPOINTED_PROJECT_PAIRS_MAX)
        for (project_id, gpu_type_id), balance in found.items():
            result[project_id][names[project_id, gpu_type_id]] = balance
    return result


GRANTED_KINDS = tuple(kind for kind, name in KIND_BALANCE_FIELD.items() if name == "granted")
CHARGED_KINDS = tuple(kind for kind, name in KIND_BALANCE_FIELD.items() if name == "charged")


def grants_by_project(project_ids: Collection[int]) -> dict[int, dict[str, Balance]]:
    """Project id → GPU type name → a balance of its grants only (held and charged zero): the
    allocation, read without the holds and charges that grow with the jobs. One query."""
    entries = LedgerEntry.objects.filter(project_id__in=list(project_ids), kind__in=GRANTED_KINDS)
    result: dict[int, dict[str, Balance]] = {pk: {} for pk in project_ids}
    for (project_id, name), balance in balances(entries, "project_id", "gpu_type__name").items():
        result[project_id][name] = balance
    return result


def balances_by_allocation(
    pairs: Collection[tuple[int, int]], *, checkpointed_max: int = CHECKPOINTED_PAIRS_MAX
) -> dict[tuple[int, int], Balance]:
    """``(project id, GPU type id)`` → balance, for many allocations: each allocation's
    checkpoint plus its entries after it (two queries; the entries read do not grow with the
    allocation's history once a checkpoint folds it, ``booking.ledger.checkpoints``). More
    than ``checkpointed_max`` allocations are summed whole, in one query.

    The checkpoints are read first: a checkpoint written between the two reads is simply not
    used, and every entry up to the one read is in it (see ``LedgerCheckpoint``)."""
    if len(pairs) > checkpointed_max:
        # A batch (a cycle's holds, reconcile's settlements): one grouped sum of the whole
        # histories, as a list of thousands of id ranges would cost more to plan than to read.
        projects = {project for project, _type in pairs}
        types = {gpu_type for _project, gpu_type in pairs}
        entries = LedgerEntry.objects.filter(project_id__in=projects, gpu_type_id__in=types)
        everything = balances(entries, "project_id", "gpu_type_id")
        return {pair: everything.get(pair, Balance()) for pair in pairs}
    kept, after = checkpoints_and_entries_after(pairs)
    found = balances(after, "project_id", "gpu_type_id")
    return {pair: checkpoint_balance(kept.get(pair)) + found.get(pair, Balance()) for pair in pairs}


def checkpoints_and_entries_after(
    pairs: Collection[tuple[int, int]],
) -> tuple[dict[tuple[int, int], LedgerCheckpoint], QuerySet[LedgerEntry]]:
    """The allocations' checkpoints (one query) and their entries after them (a queryset:
    one range of ids per allocation on the ``ledger_allocation_id`` index)."""
    kept = {
        (row.project_id, row.gpu_type_id): row
        for row in LedgerCheckpoint.objects.filter(
            project_id__in={project for project, _type in pairs},
            gpu_type_id__in={gpu_type for _project, gpu_type in pairs},
        )
    }
    after = Q(pk__in=[])
    for project_id, gpu_type_id in pairs:
        row = kept.get((project_id, gpu_type_id))
        after |= Q(
            project_id=project_id,
            gpu_type_id=gpu_type_id,
            pk__gt=row.through_entry_id if row is not None else 0,
        )
    return kept, LedgerEntry.objects.filter(after)


def checkpoint_balance(row: LedgerCheckpoint | None) -> Balance:
    """The totals a checkpoint folds (nothing without one)."""
    if row is None:
        return Balance()
    return Balance(row.granted, row.held, row.charged)


def checkpoint_days(row: LedgerCheckpoint | None) -> dict[date, Decimal]:
    """The charges per day a checkpoint keeps (``charged_days``; nothing without one)."""
    kept = row.charged_days if row is not None else {}
    return {date.fromisoformat(day): Decimal(hours) for day, hours in kept.items()}


def checkpoint_hours(row: LedgerCheckpoint | None) -> dict[datetime, Decimal]:
    """The charges per hour a checkpoint keeps (``charged_hours``; nothing without one)."""
    kept = row.charged_hours if row is not None else {}
    return {datetime.fromisoformat(hour): Decimal(hours) for hour, hours in kept.items()}


def balances_of(*, project: Project) -> dict[str, Balance]:
    """Per GPU type name: granted, held, charged (and available). Three queries."""
    return balances_by_project([project.pk])[project.pk]


def balance_of(*, project: Project, gpu_type: GpuType) -> Balance:
    """The balance of one (project, GPU type): its checkpoint and the entries after it."""
    pair = (project.pk, gpu_type.pk)
    return balances_by_allocation([pair])[pair]


def budget_of(project: Project, gpu_type_name: str) -> Balance | None:
    """The project's balance of one GPU type by name; None for an unknown type."""
    gpu_type = GpuType.objects.filter(name=gpu_type_name).first()
    return None if gpu_type is None else balance_of(project=project, gpu_type=gpu_type)


def charged_by_day(entries: QuerySet[LedgerEntry]) -> dict[tuple[int, int], dict[date, Decimal]]:
    """``(project id, GPU type id)`` → day (UTC) → GPU-hours charged net of refunds that day,
    over ``entries``. One query."""
    return _charged_by(entries, TruncDate("created_at", tzinfo=UTC))


def charged_by_hour(
    entries: QuerySet[LedgerEntry],
) -> dict[tuple[int, int], dict[datetime, Decimal]]:
    """The same per hour (its start, UTC). One query."""
    return _charged_by(entries, TruncHour("created_at", tzinfo=UTC))


def _charged_by(entries: QuerySet[LedgerEntry], period: Func) -> dict[tuple[int, int], Any]:
    rows = (
        entries.filter(kind__in=CHARGED_KINDS)
        .annotate(period=period)
        .order_by()
        .values("project_id", "gpu_type_id", "period")
        .annotate(gpu_hours=Sum("gpu_hours"))
    )
    found: dict[tuple[int, int], dict[Any, Decimal]] = defaultdict(dict)
    for row in rows:
        found[row["project_id"], row["gpu_type_id"]][row["period"]] = quantise_hours(
            row["gpu_hours"]
        )
    return dict(found)


def charged_per_day(project: Project, *, since: date) -> dict[str, list[tuple[date, Decimal]]]:
    """GPU type name → (day, GPU-hours charged net of refunds that day) from ``since`` on,
    oldest first, after one point the day before ``since`` holding everything charged earlier
    (when anything was). Types with nothing charged are left out.

    Reads each allocation's checkpoint (its total and its last days, ``charged_days``) and the
    entries after it: three queries, bounded by the days since the checkpoint, not by the
    project's history. ``since`` must be within ``booking.ledger.checkpoints.DAYS_KEPT`` days
    of the latest entry."""
    names = dict(
        Allocation.objects.filter(project=project).values_list("gpu_type_id", "gpu_type__name")
    )
    pairs = [(project.pk, gpu_type_id) for gpu_type_id in names]
    if not pairs:
        return {}
    kept, after = checkpoints_and_entries_after(pairs)
    recent = charged_by_day(after)
    result: dict[str, list[tuple[date, Decimal]]] = {}
    for pair in pairs:
        checkpoint = kept.get(pair)
        days: dict[date, Decimal] = defaultdict(Decimal, checkpoint_days(checkpoint))
        for day, hours in recent.get(pair, {}).items():
            days[day] += hours
        total = checkpoint_balance(checkpoint).charged + sum(recent.get(pair, {}).values(), ZERO)
        shown = sorted((day, hours) for day, hours in days.items() if day >= since)
        earlier = total - sum((hours for _day, hours in shown), ZERO)
        points = [(since - timedelta(days=1), earlier)] if earlier else []
        if points or shown:
            result[names[pair[1]]] = points + shown
    return result


def job_ledger_entries(job: Job) -> QuerySet[LedgerEntry]:
    """The job's holds, releases and charges, every attempt, oldest first."""
    return (
        LedgerEntry.objects.filter(project_id=job.project_id)
        .filter(idempotency_key__startswith=f"job-{job.uuid}-")
        .select_related("gpu_type", "actor")
        .order_by("created_at", "pk")
    )


@dataclass(frozen=True)
class BurnRate:
    """GPU-hours of one GPU type charged in the last day and week, and held now."""

    gpu_type: str
    charged_24h_gpu_hours: Decimal
    charged_7d_gpu_hours: Decimal
    held_gpu_hours: Decimal

    @property
    def average_gpus_24h(self) -> Decimal:
        """GPUs busy on average over the last 24 hours."""
        return (self.charged_24h_gpu_hours / 24).quantize(Decimal("0.1"))


def project_burn_rates(project: Project, *, now: datetime) -> list[BurnRate]:
    """Per GPU type of the project's allocations, by name: its charges of the last 24 hours
    and 7 days, and what it holds now. Four queries, whatever the project's history.

    Each checkpoint keeps its last days' charges per hour (``charged_hours``): a window is the
    folded hours that start inside it, the folded entries between its start and the first of
    those hours (under an hour of entries, on the ``ledger_project_time`` index), and the
    entries after the checkpoint. "Held" is the balance's (checkpoint and entries after it)."""
    names = dict(
        Allocation.objects.filter(project=project).values_list("gpu_type_id", "gpu_type__name")
    )
    pairs = [(project.pk, gpu_type_id) for gpu_type_id in names]
    if not pairs:
        return []
    kept, after = checkpoints_and_entries_after(pairs)
    starts = {"day": now - timedelta(hours=24), "week": now - WEEK}
    charged = Q(kind__in=CHARGED_KINDS)
    recent: dict[int, Mapping[str, Any]] = {
        row["gpu_type_id"]: row
        for row in after.order_by()
        .values("gpu_type_id")
        .annotate(
            **{
                name: gpu_hours_sum(charged & Q(created_at__gte=start))
                for name, start in starts.items()
            },
            **balance_sums(),
        )
    }
    edges = {name: _hour_ceiling(start) for name, start in starts.items()}
    folded_at_edges = _charged_before_edges(project, kept, starts, edges)
    rates = []
    for pair in pairs:
        checkpoint, row = kept.get(pair), recent.get(pair[1])
        hours = checkpoint_hours(checkpoint)
        window = {
            name: sum((h for hour, h in hours.items() if hour >= edges[name]), ZERO)
            + folded_at_edges.get((pair[1], name), ZERO)
            + (row[name] if row is not None else ZERO)
            for name in starts
        }
        balance = checkpoint_balance(checkpoint) + (
            balance_from_row(row) if row is not None else Balance()
        )
        rates.append(
            BurnRate(
                names[pair[1]],
                quantise_hours(window["day"]),
                quantise_hours(window["week"]),
                balance.held,
            )
        )
    return sorted(rates, key=lambda rate: rate.gpu_type)


def _hour_ceiling(moment: datetime) -> datetime:
    """The first whole hour (UTC) at or after ``moment``."""
    hour = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour if hour == moment else hour + timedelta(hours=1)


def _charged_before_edges(
    project: Project,
    kept: Mapping[tuple[int, int], LedgerCheckpoint],
    starts: Mapping[str, datetime],
    edges: Mapping[str, datetime],
) -> dict[tuple[int, str], Decimal]:
    """(GPU type id, window) → the folded charges from the window's start to its first whole
    hour, which the checkpoint's hours do not split. One query over under two hours."""
    inside = Q(pk__in=[])
    for name, start in starts.items():
        inside |= Q(created_at__gte=start, created_at__lt=edges[name])
    through = {gpu_type: row.through_entry_id for (_p, gpu_type), row in kept.items()}
    found: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    rows = LedgerEntry.objects.filter(inside, project=project, kind__in=CHARGED_KINDS).values_list(
        "pk", "gpu_type_id", "created_at", "gpu_hours"
    )
    for pk, gpu_type_id, created_at, gpu_hours in rows:
        if pk > through.get(gpu_type_id, 0):
            continue  # after the checkpoint: counted with those entries
        for name, start in starts.items():
            if start <= created_at < edges[name]:
                found[gpu_type_id, name] += gpu_hours
    return dict(found)
