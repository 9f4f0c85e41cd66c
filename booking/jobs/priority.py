"""What the queue is ordered by: each project's tier, then its fair share.

Fair share = recent usage / allocation, where usage decays with one half-life
(``settings.FAIR_SHARE_HALF_LIFE_DAYS``) and is stored lazily as ``(value, as_of)``. This
module owns both sides of it for the database: adding usage (admission's entry penalty, the
correction at a job's end) and reading it now (the admission cycle, queue estimates, the
console). The arithmetic itself is the pure policy's (``booking.scheduler``).
"""

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple, overload

from django.conf import settings
from django.core.cache import cache

from accounts.models import Organisation
from accounts.tiers import european_region, tier_for
from booking.ledger.selectors import Balance, balances_by_project, grants_by_project
from booking.models import AdmissionCycle, Allocation, FairShareUsage, Project
from booking.scheduler import decayed, fair_share_factor
from stargate_portal.bulk_update import rows_update

# -- fair-share usage ------------------------------------------------------------------------


def fair_share_half_life_seconds() -> float:
    return float(settings.FAIR_SHARE_HALF_LIFE_DAYS) * 86_400


def usage_now(value: float, as_of: float | None, now: float) -> float:
    """Usage recorded as ``value`` at ``as_of`` (epoch seconds), decayed until ``now``."""
    if as_of is None:
        return value
    return decayed(value, as_of, now, fair_share_half_life_seconds())


def fair_share_add(*, gpu_hours: Mapping[int, float], now: datetime) -> None:
    """Add usage to projects (a negative amount takes some back, never below zero); it decays
    from ``now`` on. Rows are locked in primary-key order: concurrent writers cannot deadlock."""
    if not gpu_hours:
        return
    FairShareUsage.objects.bulk_create(
        [FairShareUsage(project_id=pk, as_of=now) for pk in gpu_hours], ignore_conflicts=True
    )
    rows = list(
        FairShareUsage.objects.select_for_update()
        .filter(project_id__in=list(gpu_hours))
        .order_by("pk")
    )
    stamp = now.timestamp()
    for row in rows:
        current = usage_now(row.decayed_usage_gpu_hours, row.as_of.timestamp(), stamp)
        row.decayed_usage_gpu_hours = max(current + gpu_hours[row.pk], 0.0)
        row.as_of = max(row.as_of, now)
    rows_update(
        FairShareUsage,
        ["decayed_usage_gpu_hours", "as_of"],
        [(row.pk, row.decayed_usage_gpu_hours, row.as_of) for row in rows],
    )


# -- what the policy needs of a project ------------------------------------------------------


@dataclass(frozen=True)
class ProjectStanding:
    """What changes rarely: tier, state, running-GPU limit, GPU types allocated today."""

    tier: int
    suspended: bool
    max_running_gpus: int | None
    active_gpu_types: frozenset[str]


@dataclass(frozen=True)
class ProjectFacts:
    """A project as the admission policy sees it, straight from the database."""

    project_id: int
    standing: ProjectStanding
    balances: dict[str, Balance] = field(default_factory=dict)
    decayed_usage_gpu_hours: float = 0.0
    usage_as_of: float | None = None

    @property
    def tier(self) -> int:
        return self.standing.tier

    @property
    def allocated_gpu_hours(self) -> float:
        return float(sum(balance.granted for balance in self.balances.values()))

    def available_gpu_hours(self) -> dict[str, float]:
        """Per GPU type whose allocation is active today; other types have nothing to spend."""
        return {
            name: float(balance.available)
            for name, balance in self.balances.items()
            if name in self.standing.active_gpu_types
        }

    def usage(self, now: float) -> float:
        """Recent usage, decayed until ``now`` (epoch seconds)."""
        return usage_now(self.decayed_usage_gpu_hours, self.usage_as_of, now)

    def fair_share(self, now: float) -> float:
        return fair_share_factor(self.usage(now), self.allocated_gpu_hours)


def project_facts(
    project_ids: Collection[int],
    *,
    today: date,
    standings: dict[int, ProjectStanding] | None = None,
    balances: dict[int, dict[str, Balance]] | None = None,
) -> dict[int, ProjectFacts]:
    """Standing, balances per GPU type and decayed usage of these projects (1 to 4 queries;
    pass what is already known to skip reading it)."""
    ids = list(project_ids)
    if standings is None:
        standings = project_standings(ids, today=today)
    if balances is None:
        balances = balances_by_project(ids)
    usage = {
        pk: (value, as_of.timestamp())
        for pk, value, as_of in FairShareUsage.objects.filter(project_id__in=ids).values_list(
            "project_id", "decayed_usage_gpu_hours", "as_of"
        )
    }
    facts = {}
    for pk in ids:
        standing = standings.get(pk)
        if standing is None:
            continue
        value, as_of = usage.get(pk, (0.0, None))
        facts[pk] = ProjectFacts(
            project_id=pk,
            standing=standing,
            balances=balances.get(pk, {}),
            decayed_usage_gpu_hours=value,
            usage_as_of=as_of,
        )
    return facts


def project_standings(project_ids: Collection[int], *, today: date) -> dict[int, ProjectStanding]:
    """Tier (computed as the model does), state, limit and today's allocations (2 queries)."""
    ids = list(project_ids)
    active: dict[int, set[str]] = defaultdict(set)
    allocations = Allocation.objects.filter(
        project_id__in=ids, starts_on__lte=today, ends_on__gte=today
    )
    for project_id, name in allocations.values_list("project_id", "gpu_type__name"):
        active[project_id].add(name)
    return {
        pk: ProjectStanding(tier, suspended, limit, frozenset(active.get(pk, ())))
        for pk, suspended, limit, tier in _project_rows(ids, today)
    }


def project_tiers(project_ids: Collection[int], *, today: date) -> dict[int, int]:
    return {pk: tier for pk, _suspended, _limit, tier in _project_rows(list(project_ids), today)}


def organisations_of_tier(tier: int, *, today: date) -> list[int]:
    """The organisations whose projects have ``tier`` (a project's tier is its
    organisation's): one row per organisation, however many projects they run."""
    rows = Organisation.objects.values_list("pk", *_TIER_FACTS)
    region = european_region()
    return [pk for pk, *facts in rows if _tier(*facts, today=today, region=region) == tier]


_TIER_FACTS = ("verification_state", "country", "kind", "founded_on")


def _tier(
    verification: str, country: Any, kind: str, founded_on: date | None, *, today: date, region: Any
) -> int:
    return int(
        tier_for(
            verified=verification == "verified",
            country=str(country),
            kind=kind,
            founded_on=founded_on,
            today=today,
            region=region,
            startup_max_age_years=settings.STARTUP_MAX_AGE_YEARS,
        )
    )


def _project_rows(ids: list[int], today: date) -> list[tuple[int, bool, int | None, int]]:
    """``(id, suspended, max running GPUs, tier)``; one tier computation per organisation."""
    region = european_region()
    rows = Project.objects.filter(pk__in=ids).values_list(
        "pk",
        "state",
        "max_running_gpus",
        "organisation_id",
        *(f"organisation__{name}" for name in _TIER_FACTS),
    )
    tiers: dict[int, int] = {}
    result = []
    for pk, state, limit, organisation_id, *facts in rows:
        if organisation_id not in tiers:
            tiers[organisation_id] = _tier(*facts, today=today, region=region)
        result.append((pk, state == "suspended", limit, tiers[organisation_id]))
    return result


# -- the staff console's fair-share table ----------------------------------------------------


class FairShareRow(NamedTuple):
    """A project as the queue orders it: tier, then fair share (lower goes first). A named
    tuple: the cached table is kept as plain tuples, which load ten times faster than objects
    (2,000 rows: about 1 ms against 12 ms on the benchmark site)."""

    pk: int
    name: str
    organisation: str
    tier: int
    decayed_usage_gpu_hours: float
    allocated_gpu_hours: float
    fair_share: float


def fair_share_table(
    *, now: datetime, tier: int | None = None, search: str = ""
) -> list[FairShareRow]:
    """Every project with an allocation, in queue order (a constant number of queries, none
    reading jobs or the holds and charges: pages count the jobs of the rows they show)."""
    projects = Project.objects.filter(pk__in=Allocation.objects.values("project_id"))
    if search:
        projects = projects.filter(name__icontains=search)
    names = {
        pk: (name, organisation)
        for pk, name, organisation in projects.values_list("pk", "name", "organisation__name")
    }
    facts = project_facts(names, today=now.date(), balances=grants_by_project(names))
    stamp = now.timestamp()
    rows = [
        FairShareRow(
            pk=pk,
            name=names[pk][0],
            organisation=names[pk][1],
            tier=fact.tier,
            decayed_usage_gpu_hours=fact.usage(stamp),
            allocated_gpu_hours=fact.allocated_gpu_hours,
            fair_share=fact.fair_share(stamp),
        )
        for pk, fact in facts.items()
        if tier is None or fact.tier == tier
    ]
    return sorted(rows, key=lambda row: (row.tier, row.fair_share, row.name.lower(), row.pk))


class FairShareRows(Sequence[FairShareRow]):
    """The kept table's plain tuples, made rows only when read: a page makes 25 named tuples,
    not one per project (2,000 on the benchmark site), so the page costs O(page) in Python
    past the cache read and a filter of plain tuples."""

    __slots__ = ("_tuples",)

    def __init__(self, tuples: list[tuple[Any, ...]]) -> None:
        self._tuples = tuples

    def __len__(self) -> int:
        return len(self._tuples)

    @overload
    def __getitem__(self, index: int) -> FairShareRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[FairShareRow]: ...

    def __getitem__(self, index: int | slice) -> FairShareRow | list[FairShareRow]:
        if isinstance(index, slice):
            return [FairShareRow._make(row) for row in self._tuples[index]]
        return FairShareRow._make(self._tuples[index])


@dataclass(frozen=True)
class FairShareTable:
    rows: FairShareRows
    as_of: datetime


FAIR_SHARE_TABLE_CACHE_KEY = "jobs:fair-share-table:v2:{cycle}"
_TIER = FairShareRow._fields.index("tier")
_NAME = FairShareRow._fields.index("name")


def fair_share_table_recent(
    *, now: datetime, tier: int | None = None, search: str = ""
) -> FairShareTable:
    """``fair_share_table`` of every project, computed at most once per admission cycle and
    per ``FAIR_SHARE_TABLE_SECONDS`` of cluster time and kept in the shared cache (O(projects)
    once, not on every page view), then filtered here by tier and name."""
    latest = AdmissionCycle.objects.order_by("-started_at", "-pk").values_list("pk", flat=True)
    key = FAIR_SHARE_TABLE_CACHE_KEY.format(cycle=latest.first())
    kept: tuple[datetime, list[tuple[Any, ...]]] | None = cache.get(key)
    max_age = float(settings.FAIR_SHARE_TABLE_SECONDS)
    if kept is None or not 0 <= (now - kept[0]).total_seconds() <= max_age:
        kept = (now, [tuple(row) for row in fair_share_table(now=now)])
        cache.set(key, kept, timeout=max_age)
    as_of, table = kept
    needle = search.casefold()
    if tier is not None or needle:
        table = [
            row
            for row in table
            if (tier is None or row[_TIER] == tier)
            and (not needle or needle in row[_NAME].casefold())
        ]
    return FairShareTable(FairShareRows(table), as_of)
