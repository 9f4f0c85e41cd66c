"""The queue as people see it: a job's position and estimated start, the overview per GPU
type, and the staff queue list."""

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, F, Q, QuerySet, Sum, Window

from booking.capacity.jobs import bookings_near
from booking.capacity.reservations import reservation_lead
from booking.cluster.registry import cluster_backend
from booking.jobs.priority import project_facts, project_tiers
from booking.jobs.selectors import QUEUED_STATES
from booking.models import ACTIVE_STATES, Job, JobState, Project


@dataclass(frozen=True)
class WorkAhead:
    """Pending jobs of the same GPU type the queue considers before this one."""

    jobs: int
    gpus: int
    gpu_minutes: int


def work_ahead(job: Job, *, now: datetime) -> WorkAhead:
    """Jobs ahead in the GPU type's queue: projects of a better (tier, fair share), then the
    project's own earlier jobs. Assumes today's order holds (budget and caps aside). A job in
    a capacity booking queues only behind the booking's earlier jobs."""
    if job.booking_id is not None:
        return _work_ahead_in_booking(job)
    pending = Job.objects.filter(
        state=JobState.PENDING, gpu_type_id=job.gpu_type_id, booking__isnull=True
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


def _work_ahead_in_booking(job: Job) -> WorkAhead:
    earlier = Job.objects.filter(
        Q(submitted_at__lt=job.submitted_at) | Q(submitted_at=job.submitted_at, pk__lt=job.pk),
        state=JobState.PENDING,
        booking_id=job.booking_id,
    ).aggregate(
        n=Count("pk"), gpu_count=Sum("gpus"), gpu_minutes=Sum(F("gpus") * F("walltime_minutes"))
    )
    return WorkAhead(
        jobs=earlier["n"] or 0,
        gpus=earlier["gpu_count"] or 0,
        gpu_minutes=earlier["gpu_minutes"] or 0,
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
    ahead = ahead or work_ahead(job, now=now)
    if job.booking_id is not None:
        return _booked_start(job, now=now, ahead=ahead)
    nodes = cluster_backend().capacity().get(job.gpu_type.name)
    if nodes is None:
        return None
    # As the admission policy sees it: booked nodes set aside for a window that is open or
    # starts soon are not the general queue's, nor are the booked jobs running on them.
    usable = nodes.usable_gpus - _booked_gpus(job, now=now, unavailable=nodes.unavailable)
    if usable <= 0:
        return None
    active = Job.objects.filter(
        state__in=ACTIVE_STATES, gpu_type_id=job.gpu_type_id, booking__isnull=True
    ).order_by()
    used = active.aggregate(gpu_count=Sum("gpus"))["gpu_count"] or 0
    short = ahead.gpus + job.gpus - (usable - used)
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
    waves = math.ceil((short - used) / usable)
    mean_minutes = ahead.gpu_minutes / ahead.gpus if ahead.gpus else job.walltime_minutes
    return max(latest, now) + timedelta(minutes=waves * mean_minutes)


def _booked_gpus(job: Job, *, now: datetime, unavailable: frozenset[int]) -> int:
    """GPUs of the job's type on nodes that bookings near ``now`` set aside (one query)."""
    near = bookings_near(now=now, within=reservation_lead(), gpu_type=job.gpu_type)
    booked = {node for booking in near for node in booking.node_indices} - unavailable
    return len(booked) * job.gpu_type.gpus_per_node


def _booked_start(job: Job, *, now: datetime, ahead: WorkAhead) -> datetime | None:
    """A job in a booking starts when the window opens, once the booking's earlier jobs
    leave it room (their walltimes end)."""
    booking = job.booking
    if booking is None:
        return None
    start = max(booking.starts_at, now)
    running = Job.objects.filter(state__in=ACTIVE_STATES, booking_id=booking.pk).order_by()
    used = running.aggregate(gpu_count=Sum("gpus"))["gpu_count"] or 0
    short = ahead.gpus + job.gpus - (booking.gpus - used)
    if short > 0:
        freed_by = (
            running.annotate(
                freed=Window(Sum("gpus"), order_by=[F("expected_end").asc(), F("pk").asc()])
            )
            .filter(freed__gte=short)
            .order_by("expected_end", "pk")
            .values_list("expected_end", flat=True)
            .first()
        )
        start = max(start, freed_by or booking.ends_at)
    return start if start + timedelta(minutes=job.walltime_minutes) <= booking.ends_at else None


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
