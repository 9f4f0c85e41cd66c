"""Job reads scoped to the user, and the facts the queue is ordered by (tier, fair share)."""

import math
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum, Window
from django.shortcuts import get_object_or_404

from accounts.models import User
from accounts.tiers import european_region, tier_for
from booking.cluster.registry import cluster_backend
from booking.ledger.selectors import _SUMS, Balance, _balance, _sum
from booking.models import (
    ACTIVE_STATES,
    AdmissionCycle,
    Allocation,
    FairShareUsage,
    Job,
    JobEvent,
    JobState,
    LedgerEntry,
    Project,
)
from booking.scheduler import decayed, fair_share_factor

QUEUED_STATES = (JobState.PENDING, JobState.HELD, *ACTIVE_STATES)


def jobs_of(user: User) -> QuerySet[Job]:
    """Jobs of the projects the user is a member of (staff: every job)."""
    qs = Job.objects.select_related("project", "gpu_type", "submitted_by")
    if user.is_staff:
        return qs
    return qs.filter(project__members__user=user)


def job_of(user: User, pk: int) -> Job:
    return get_object_or_404(jobs_of(user), pk=pk)


def job_history(job: Job) -> QuerySet[JobEvent]:
    return job.events.select_related("actor").order_by("at", "pk")


def admission_cycles_recent(limit: int = 20) -> list[AdmissionCycle]:
    """The last admission cycles, newest first (staff console)."""
    return list(AdmissionCycle.objects.order_by("-started_at", "-pk")[:limit])


# -- what the queue is ordered by ------------------------------------------------------------


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

    def fair_share(self, now: float) -> float:
        half_life = settings.FAIR_SHARE_HALF_LIFE_DAYS * 86_400
        usage = self.decayed_usage_gpu_hours
        if self.usage_as_of is not None:
            usage = decayed(usage, self.usage_as_of, now, half_life)
        return fair_share_factor(usage, self.allocated_gpu_hours)


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
        balances = project_balances(ids)
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


def project_balances(project_ids: Collection[int]) -> dict[int, dict[str, Balance]]:
    """Per project and GPU type name: granted, held, charged (one query)."""
    balances: dict[int, dict[str, Balance]] = defaultdict(dict)
    sums = {name: _sum(condition) for name, condition in _SUMS.items()}
    ledger = LedgerEntry.objects.filter(project_id__in=list(project_ids)).order_by()
    for row in ledger.values("project_id", "gpu_type__name").annotate(**sums):
        balances[row["project_id"]][row["gpu_type__name"]] = _balance(row)
    return balances


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


def _project_rows(ids: list[int], today: date) -> list[tuple[int, bool, int | None, int]]:
    """``(id, suspended, max running GPUs, tier)``; one tier computation per organisation."""
    region = european_region()
    rows = Project.objects.filter(pk__in=ids).values_list(
        "pk",
        "state",
        "max_running_gpus",
        "organisation_id",
        "organisation__verification_state",
        "organisation__country",
        "organisation__kind",
        "organisation__founded_on",
    )
    tiers: dict[int, int] = {}
    result = []
    for pk, state, limit, organisation_id, verification, country, kind, founded_on in rows:
        if organisation_id not in tiers:
            tiers[organisation_id] = int(
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
        result.append((pk, state == "suspended", limit, tiers[organisation_id]))
    return result


# -- queue position and estimated start ------------------------------------------------------


@dataclass(frozen=True)
class WorkAhead:
    """Pending jobs of the same GPU type the queue considers before this one."""

    jobs: int
    gpus: int
    gpu_minutes: int


def work_ahead(job: Job, *, now: datetime) -> WorkAhead:
    """Jobs ahead in the GPU type's queue: projects of a better (tier, fair share), then the
    project's own earlier jobs. Assumes today's order holds (budget and caps aside)."""
    pending = Job.objects.filter(
        state=JobState.PENDING, gpu_type_id=job.gpu_type_id, booking_reference__isnull=True
    ).order_by()
    per_project = {
        row["project_id"]: row
        for row in pending.values("project_id").annotate(
            n=Count("pk"), gpu_count=Sum("gpus"), gpu_minutes=Sum(F("gpus") * F("walltime_minutes"))
        )
    }
    facts = project_facts({*per_project, job.project_id}, today=now.date())
    stamp = now.timestamp()

    def key(project_id: int) -> tuple[int, float, int]:
        fact = facts.get(project_id)
        if fact is None:
            return (99, math.inf, project_id)
        return (fact.tier, fact.fair_share(stamp), project_id)

    own = key(job.project_id)
    ahead = [row for pid, row in per_project.items() if key(pid) < own]
    earlier = pending.filter(
        Q(submitted_at__lt=job.submitted_at) | Q(submitted_at=job.submitted_at, pk__lt=job.pk),
        project_id=job.project_id,
    )
    mine = earlier.aggregate(
        n=Count("pk"), gpu_count=Sum("gpus"), gpu_minutes=Sum(F("gpus") * F("walltime_minutes"))
    )
    rows = [*ahead, mine]
    return WorkAhead(
        jobs=sum(row["n"] or 0 for row in rows),
        gpus=sum(row["gpu_count"] or 0 for row in rows),
        gpu_minutes=sum(row["gpu_minutes"] or 0 for row in rows),
    )


def queue_standing(job: Job, *, now: datetime) -> tuple[int | None, datetime | None]:
    """Queue position and estimated start together, walking the work ahead once."""
    if job.state != JobState.PENDING:
        return None, None
    ahead = work_ahead(job, now=now)
    return queue_position(job, now=now, ahead=ahead), estimated_start(job, now=now, ahead=ahead)


def queue_position(job: Job, *, now: datetime, ahead: WorkAhead | None = None) -> int | None:
    """1 for the next job of its GPU type to be considered; None unless pending."""
    if job.state != JobState.PENDING:
        return None
    return (ahead or work_ahead(job, now=now)).jobs + 1


def estimated_start(job: Job, *, now: datetime, ahead: WorkAhead | None = None) -> datetime | None:
    """When the running jobs' walltimes free enough GPUs for this job and those ahead of it.

    The job holding its GPU type's backfill reservation has the policy's own shadow time.
    Beyond one turnover of the running jobs, each further site-full of demand waits the mean
    walltime of the work ahead. None unless pending.
    """
    if job.state != JobState.PENDING:
        return None
    if job.estimated_start is not None:
        return max(job.estimated_start, now)
    nodes = cluster_backend().capacity().get(job.gpu_type.name)
    if nodes is None or nodes.usable_gpus <= 0:
        return None
    ahead = ahead or work_ahead(job, now=now)
    active = Job.objects.filter(state__in=ACTIVE_STATES, gpu_type_id=job.gpu_type_id).order_by()
    used = active.aggregate(gpu_count=Sum("gpus"))["gpu_count"] or 0
    short = ahead.gpus + job.gpus - (nodes.usable_gpus - used)
    if short <= 0:
        return now
    freed_by = (
        active.annotate(
            freed=Window(Sum("gpus"), order_by=[F("expected_end").asc(), F("pk").asc()])
        )
        .filter(freed__gte=short)
        .order_by("expected_end", "pk")
        .values_list("expected_end", flat=True)
        .first()
    )
    if freed_by is not None:
        return max(freed_by, now)
    ends = [end for end in active.values_list("expected_end", flat=True) if end is not None]
    latest = max(ends, default=now)
    waves = math.ceil((short - used) / nodes.usable_gpus)
    mean_minutes = ahead.gpu_minutes / ahead.gpus if ahead.gpus else job.walltime_minutes
    return max(latest, now) + timedelta(minutes=waves * mean_minutes)


# -- queue overview --------------------------------------------------------------------------


@dataclass
class GpuTypeQueue:
    """Jobs and GPUs per state and tier of one GPU type, with its capacity."""

    gpu_type: str
    total_gpus: int = 0
    usable_gpus: int = 0
    used_gpus: int = 0
    jobs: dict[str, dict[int, int]] = field(default_factory=dict)
    gpus: dict[str, dict[int, int]] = field(default_factory=dict)

    @property
    def free_gpus(self) -> int:
        return max(self.usable_gpus - self.used_gpus, 0)


def queue_overview(*, today: date) -> list[GpuTypeQueue]:
    """Per GPU type: capacity, and counts of pending, held, admitted, running jobs by tier."""
    rows = list(
        Job.objects.filter(state__in=QUEUED_STATES)
        .order_by()
        .values("gpu_type__name", "project_id", "state")
        .annotate(n=Count("pk"), gpu_count=Sum("gpus"))
    )
    tiers = project_tiers({row["project_id"] for row in rows}, today=today)
    queues = {
        name: GpuTypeQueue(name, nodes.total_gpus, nodes.usable_gpus)
        for name, nodes in cluster_backend().capacity().items()
    }
    for row in rows:
        queue = queues.setdefault(row["gpu_type__name"], GpuTypeQueue(row["gpu_type__name"]))
        tier, state = tiers.get(row["project_id"], 4), row["state"]
        by_tier = queue.jobs.setdefault(state, {})
        by_tier[tier] = by_tier.get(tier, 0) + row["n"]
        gpus = queue.gpus.setdefault(state, {})
        gpus[tier] = gpus.get(tier, 0) + row["gpu_count"]
        if state in ACTIVE_STATES:
            queue.used_gpus += row["gpu_count"]
    return sorted(queues.values(), key=lambda queue: queue.gpu_type)
