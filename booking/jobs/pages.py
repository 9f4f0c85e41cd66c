"""Reads of the job pages in the portal and the console: my jobs and projects, a job's ledger
entries, a project's burn rate, the fair-share table and the queue for staff.

The job reads themselves (scoping, position, estimated start, queue overview) live in
``booking.jobs.selectors``; this module adds what the pages show around them.
"""

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DecimalField,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts.models import User
from booking.grants.selectors.projects import projects_of
from booking.jobs.selectors import (
    QUEUED_STATES,
    ProjectFacts,
    jobs_of,
    project_facts,
    project_tiers,
)
from booking.ledger.selectors import Balance, balance_of
from booking.models import (
    ACTIVE_STATES,
    Allocation,
    GpuType,
    Job,
    JobState,
    LedgerEntry,
    LedgerEntryKind,
    Project,
)
from booking.scheduler import decayed

ZERO = Decimal("0.0000")
WAITING_STATES = (JobState.PENDING, JobState.HELD)


# -- my projects and jobs --------------------------------------------------------------------


def member_projects(user: User) -> QuerySet[Project]:
    """Projects the user is a member of (staff too: only their own), by name."""
    return projects_of(user).filter(members__user=user)


def member_jobs(user: User) -> QuerySet[Job]:
    """Jobs of the projects the user is a member of, newest first (staff: only their own)."""
    jobs = jobs_of(user)
    if user.is_staff:
        jobs = jobs.filter(project__members__user=user)
    return jobs.order_by("-submitted_at", "-pk")


def gpu_types_allocated(projects: QuerySet[Project]) -> dict[int, list[str]]:
    """Project id → names of the GPU types it has an allocation for (one query)."""
    types: dict[int, list[str]] = defaultdict(list)
    rows = (
        Allocation.objects.filter(project__in=projects.values("pk"))
        .order_by("gpu_type__name")
        .values_list("project_id", "gpu_type__name")
    )
    for project_id, name in rows:
        if name not in types[project_id]:
            types[project_id].append(name)
    return dict(types)


def gpu_type_names() -> list[str]:
    """Every GPU type the site offers (public data), by name."""
    return list(GpuType.objects.order_by("name").values_list("name", flat=True))


def job_ledger_entries(job: Job) -> QuerySet[LedgerEntry]:
    """The job's holds, releases and charges, every attempt, oldest first."""
    return (
        LedgerEntry.objects.filter(project_id=job.project_id)
        .filter(idempotency_key__startswith=f"job-{job.uuid}-")
        .select_related("gpu_type", "actor")
        .order_by("created_at", "pk")
    )


def budget_of(project: Project, gpu_type_name: str) -> Balance | None:
    """The project's balance of one GPU type by name; None for an unknown type."""
    gpu_type = GpuType.objects.filter(name=gpu_type_name).first()
    return None if gpu_type is None else balance_of(project=project, gpu_type=gpu_type)


# -- a project's jobs and burn rate ----------------------------------------------------------


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


def _hours(condition: Q) -> Coalesce:
    field = DecimalField(max_digits=14, decimal_places=4)
    return Coalesce(Sum("gpu_hours", filter=condition), Value(ZERO), output_field=field)


def project_burn_rates(project: Project, *, now: datetime) -> list[BurnRate]:
    """Per GPU type with ledger entries, by name (one query)."""
    charged = Q(kind__in=[LedgerEntryKind.CHARGE, LedgerEntryKind.REFUND])
    rows = (
        LedgerEntry.objects.filter(project=project)
        .order_by()
        .values("gpu_type__name")
        .annotate(
            day=_hours(charged & Q(created_at__gte=now - timedelta(hours=24))),
            week=_hours(charged & Q(created_at__gte=now - timedelta(days=7))),
            held=_hours(Q(kind__in=[LedgerEntryKind.HOLD, LedgerEntryKind.RELEASE])),
        )
        .order_by("gpu_type__name")
    )
    return [
        BurnRate(
            row["gpu_type__name"],
            Decimal(row["day"]).quantize(ZERO),
            Decimal(row["week"]).quantize(ZERO),
            Decimal(row["held"]).quantize(ZERO),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class JobCounts:
    """Jobs of a project per state, and the GPUs its admitted and running jobs use."""

    pending: int = 0
    held: int = 0
    admitted: int = 0
    running: int = 0
    gpus_in_use: int = 0


def job_counts(project_ids: Collection[int]) -> dict[int, JobCounts]:
    """Project id → its queued and active jobs (one query)."""
    rows = (
        Job.objects.filter(project_id__in=list(project_ids), state__in=QUEUED_STATES)
        .order_by()
        .values("project_id", "state")
        .annotate(n=Count("pk"), gpu_count=Sum("gpus"))
    )
    figures: dict[int, dict[str, int]] = defaultdict(dict)
    for row in rows:
        figures[row["project_id"]][row["state"]] = row["n"]
        if row["state"] in ACTIVE_STATES:
            used = figures[row["project_id"]].get("gpus_in_use", 0)
            figures[row["project_id"]]["gpus_in_use"] = used + (row["gpu_count"] or 0)
    return {pk: JobCounts(**values) for pk, values in figures.items()}


def project_live_jobs(user: User, project: Project, *, limit: int) -> list[Job]:
    """The project's running, admitted, pending and held jobs: running first, then oldest."""
    rank = Case(
        When(state=JobState.RUNNING, then=0),
        When(state=JobState.ADMITTED, then=1),
        When(state=JobState.PENDING, then=2),
        default=3,
        output_field=IntegerField(),
    )
    jobs = jobs_of(user).filter(project=project, state__in=QUEUED_STATES).annotate(rank=rank)
    return list(jobs.order_by("rank", "submitted_at", "pk")[:limit])


# -- staff: the queue and fair share ---------------------------------------------------------


def staff_queue(
    *, states: Iterable[str], gpu_type: str = "", tier: int | None = None, today: date
) -> QuerySet[Job]:
    """Every job in ``states`` (oldest first), of one GPU type and tier when given."""
    jobs = Job.objects.select_related("project", "gpu_type", "submitted_by").filter(
        state__in=list(states)
    )
    if gpu_type:
        jobs = jobs.filter(gpu_type__name=gpu_type)
    if tier is not None:
        ids = Project.objects.values_list("pk", flat=True)
        tiers = project_tiers(list(ids), today=today)
        jobs = jobs.filter(project_id__in=[pk for pk, value in tiers.items() if value == tier])
    return jobs.order_by("submitted_at", "pk")


@dataclass(frozen=True)
class FairShareRow:
    """A project as the queue orders it: tier, then fair share (lower goes first)."""

    pk: int
    name: str
    organisation: str
    tier: int
    decayed_usage_gpu_hours: float
    allocated_gpu_hours: float
    fair_share: float
    counts: JobCounts


def fair_share_table(
    *, now: datetime, tier: int | None = None, search: str = ""
) -> list[FairShareRow]:
    """Every project with an allocation, in queue order (a constant number of queries)."""
    projects = Project.objects.filter(pk__in=Allocation.objects.values("project_id"))
    if search:
        projects = projects.filter(name__icontains=search)
    names = {
        pk: (name, organisation)
        for pk, name, organisation in projects.values_list("pk", "name", "organisation__name")
    }
    facts = project_facts(names, today=now.date())
    counts = job_counts(names)
    stamp = now.timestamp()
    rows = [
        FairShareRow(
            pk=pk,
            name=names[pk][0],
            organisation=names[pk][1],
            tier=fact.tier,
            decayed_usage_gpu_hours=_usage_now(fact, stamp),
            allocated_gpu_hours=fact.allocated_gpu_hours,
            fair_share=fact.fair_share(stamp),
            counts=counts.get(pk, JobCounts()),
        )
        for pk, fact in facts.items()
        if tier is None or fact.tier == tier
    ]
    return sorted(rows, key=lambda row: (row.tier, row.fair_share, row.name.lower(), row.pk))


def _usage_now(fact: ProjectFacts, stamp: float) -> float:
    if fact.usage_as_of is None:
        return fact.decayed_usage_gpu_hours
    half_life = settings.FAIR_SHARE_HALF_LIFE_DAYS * 86_400
    return decayed(fact.decayed_usage_gpu_hours, fact.usage_as_of, stamp, half_life)
