"""The queue as people see it: a job's position and estimated start, the overview per GPU
type, and the staff queue list."""

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Subquery, Sum, Window

from booking.jobs.priority import organisations_of_tier, project_tiers
from booking.jobs.selectors import job_rows, pending_since_record
from booking.models import (
    ACTIVE_STATES,
    GpuType,
    Job,
    JobState,
    Project,
    QueueOutlook,
    QueueStanding,
)
from booking.scheduler.standing import MARK_EVERY, TypeOutlook, WorkAhead

COUNT_FROM_MARK_MAX = 2 * MARK_EVERY
"""Jobs a request counts after the project's last mark before its job; a job further away
(a burst of submissions since the last cycle) waits for the next cycle's figures."""


@dataclass(frozen=True)
class JobStanding:
    """A pending job's place in its GPU type's queue, from the last admission cycle's record.

    ``position`` None with ``known_within_seconds`` set: the job is newer than the record (its
    project had nothing of this type queued then, or many jobs were submitted since); the next
    cycle, within that many seconds, places it.
    A job in a capacity booking queues only behind the booking's earlier jobs and starts with
    its window (``_booked_start``), not from the record.
    ``tier``: the project's priority tier in that record (the tier the cycle ordered it by),
    None when the record has no row for the project and GPU type.
    """

    position: int | None = None
    estimated_start: datetime | None = None
    as_of: datetime | None = None
    known_within_seconds: float | None = None
    tier: int | None = None


def queue_standing(job: Job, *, now: datetime) -> JobStanding:
    """Position and estimated start of a pending job: a constant number of indexed queries
    (the project's standing row, then at most ``COUNT_FROM_MARK_MAX`` of its queued jobs)."""
    if job.state != JobState.PENDING:
        return JobStanding()
    if job.booking_id is not None:
        ahead_in_booking = _work_ahead_in_booking(job)
        return JobStanding(
            ahead_in_booking.jobs + 1, _booked_start(job, now=now, ahead=ahead_in_booking), now
        )
    reserved = max(job.estimated_start, now) if job.estimated_start is not None else None
    row = (
        QueueStanding.objects.select_related("outlook")
        .filter(gpu_type_id=job.gpu_type_id, project_id=job.project_id, rank__isnull=False)
        .first()
    )
    own = _own_work_ahead(job, row) if row is not None else None
    if row is None or own is None:
        soon = float(settings.ADMISSION_CYCLE_SECONDS)
        tier = None if row is None else row.tier
        return JobStanding(estimated_start=reserved, known_within_seconds=soon, tier=tier)
    ahead = WorkAhead(row.jobs_ahead, row.gpus_ahead, row.gpu_minutes_ahead).plus(
        own.jobs, own.gpus, own.gpu_minutes
    )
    start = reserved or _estimate(row.outlook, ahead, job, now)
    return JobStanding(ahead.jobs + 1, start, row.outlook.published_at, tier=row.tier)


def _own_work_ahead(job: Job, row: QueueStanding) -> WorkAhead | None:
    """The project's own pending jobs of the type before this one: from the last mark before
    it, counting at most ``COUNT_FROM_MARK_MAX`` jobs; None if there are more."""
    marks: list[list[Any]] = row.marks
    keys = [(mark[0], mark[1]) for mark in marks]
    index = bisect.bisect_right(keys, (job.submitted_at.timestamp(), job.pk))
    base, mark_pk = WorkAhead(0, 0, 0), None
    if index:
        _submit, mark_pk, position, gpus_before, minutes_before = marks[index - 1]
        base = WorkAhead(position, gpus_before, minutes_before)
    submitted_at = connection.ops.adapt_datetimefield_value(job.submitted_at)
    params: list[Any] = [job.project_id, job.gpu_type_id, JobState.PENDING, submitted_at]
    params += [submitted_at, submitted_at, job.pk]
    if mark_pk is not None:
        params += [mark_pk, mark_pk, mark_pk]
    with connection.cursor() as cursor:
        cursor.execute(
            _OWN_AHEAD_FROM_MARK if mark_pk is not None else _OWN_AHEAD,
            [*params, COUNT_FROM_MARK_MAX + 1],
        )
        jobs, gpus, gpu_minutes = cursor.fetchone()
    if jobs > COUNT_FROM_MARK_MAX:
        return None
    return base.plus(jobs, gpus or 0, gpu_minutes or 0)


# The hottest query of a job's page and its API detail (its position), written out: built by
# the ORM it cost 1.9 ms a call on the benchmark site, most of it building the SQL; 0.65 ms
# now (docs/benchmarks.md, run 13). The
# plain bounds on submitted_at let the project's pending-queue index (job_pending_queue) start
# and stop the scan at the mark and at the job; the row comparisons settle equal submit times.
# The mark's submit time is read from its row: the mark keeps it as a float, which is not
# exact to the microsecond.
_OWN_AHEAD_COUNTED = """
    SELECT COUNT(*), SUM(ahead.gpus), SUM(ahead.gpus * ahead.walltime_minutes) FROM (
      SELECT job.gpus, job.walltime_minutes FROM booking_job job
      WHERE job.project_id = %s AND job.gpu_type_id = %s AND job.state = %s
        AND job.submitted_at <= %s
        AND (job.submitted_at < %s OR (job.submitted_at = %s AND job.id < %s))"""
_AFTER_MARK = """
        AND job.submitted_at >= (SELECT mark.submitted_at FROM booking_job mark WHERE mark.id = %s)
        AND (job.submitted_at > (SELECT mark.submitted_at FROM booking_job mark WHERE mark.id = %s)
             OR job.id >= %s)"""
_IN_ORDER_AT_MOST = """
      ORDER BY job.submitted_at, job.id LIMIT %s
    ) ahead"""
_OWN_AHEAD = _OWN_AHEAD_COUNTED + _IN_ORDER_AT_MOST
_OWN_AHEAD_FROM_MARK = _OWN_AHEAD_COUNTED + _AFTER_MARK + _IN_ORDER_AT_MOST


def _estimate(outlook: QueueOutlook, ahead: WorkAhead, job: Job, now: datetime) -> datetime | None:
    figures = TypeOutlook(
        gpu_type=str(outlook.gpu_type_id),
        total_gpus=outlook.total_gpus,
        usable_gpus=outlook.usable_gpus,
        used_gpus=outlook.used_gpus,
        releases=tuple((float(end), int(gpus)) for end, gpus in outlook.releases),
    )
    when = figures.estimated_start(
        ahead=ahead, gpus=job.gpus, walltime_minutes=job.walltime_minutes, now=now.timestamp()
    )
    return None if when is None else datetime.fromtimestamp(when, tz=UTC)


def _work_ahead_in_booking(job: Job) -> WorkAhead:
    """The booking's pending jobs submitted before this one (a booking holds a few jobs)."""
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
    """Per GPU type: capacity, and jobs and GPUs pending, held, admitted and running by tier.

    Capacity, pending and active (admitted + running) figures are the last cycle's record
    (bounded by projects, not jobs); held and admitted jobs, which are few, and jobs submitted
    since the record are counted now.
    """
    queues: dict[str, GpuTypeQueue] = {}
    active: dict[tuple[str, int], tuple[int, int]] = {}
    outlooks = QueueOutlook.objects.values_list(
        "gpu_type__name", "total_gpus", "usable_gpus", "used_gpus", "tiers"
    )
    for name, total, usable, used, tiers in outlooks:
        queue = queues[name] = GpuTypeQueue(name, total, usable, used)
        for tier_text, (pending, pending_gpus, jobs_active, gpus_active) in tiers.items():
            tier = int(tier_text)
            _add(queue, JobState.PENDING, tier, pending, pending_gpus)
            active[(name, tier)] = (jobs_active, gpus_active)
    for (name, tier, state), (jobs, gpus) in _counted_now(today).items():
        queue = queues.setdefault(name, GpuTypeQueue(name))
        _add(queue, state, tier, jobs, gpus)
        if state == JobState.ADMITTED:
            jobs_active, gpus_active = active.get((name, tier), (0, 0))
            active[(name, tier)] = (jobs_active - jobs, gpus_active - gpus)
    for (name, tier), (jobs, gpus) in active.items():
        _add(queues[name], JobState.RUNNING, tier, max(jobs, 0), max(gpus, 0))
    return sorted(queues.values(), key=lambda queue: queue.gpu_type)


def _counted_now(today: date) -> dict[tuple[str, int, str], tuple[int, int]]:
    rows = list(
        Job.objects.filter(Q(state__in=(JobState.HELD, JobState.ADMITTED)) | pending_since_record())
        .order_by()
        .values("gpu_type__name", "project_id", "state")
        .annotate(n=Count("pk"), gpu_count=Sum("gpus"))
    )
    tiers = project_tiers({row["project_id"] for row in rows}, today=today) if rows else {}
    counts: dict[tuple[str, int, str], tuple[int, int]] = {}
    for row in rows:
        key = (row["gpu_type__name"], tiers.get(row["project_id"], 4), row["state"])
        jobs, gpus = counts.get(key, (0, 0))
        counts[key] = (jobs + row["n"], gpus + row["gpu_count"])
    return counts


def _add(queue: GpuTypeQueue, state: str, tier: int, jobs: int, gpus: int) -> None:
    if not jobs:
        return
    by_tier = queue.jobs.setdefault(state, {})
    by_tier[tier] = by_tier.get(tier, 0) + jobs
    gpus_by_tier = queue.gpus.setdefault(state, {})
    gpus_by_tier[tier] = gpus_by_tier.get(tier, 0) + gpus


def staff_queue(
    *, states: Iterable[str], gpu_type: str = "", tier: int | None = None, today: date
) -> QuerySet[Job]:
    """Every job in ``states`` (oldest first), of one GPU type and tier when given."""
    jobs = job_rows(Job.objects.filter(state__in=list(states)))
    if gpu_type:
        # By id, not through a join on the name: the planner then walks the index by submit
        # time and stops at the page instead of sorting every queued job of the type.
        type_id = GpuType.objects.filter(name=gpu_type).values("pk")[:1]
        jobs = jobs.filter(gpu_type_id=Subquery(type_id))
    if tier is not None:
        # By organisation (a project's tier is its organisation's): one tier computed per
        # organisation, not per project of the site. The ids as a list, not a subquery: with
        # a list the planner walks the queue's index and stops at the page; with a semi-join
        # it read every queued job of the tier.
        organisations = organisations_of_tier(tier, today=today)
        projects = Project.objects.filter(organisation_id__in=organisations)
        jobs = jobs.filter(project_id__in=list(projects.values_list("pk", flat=True)))
    return jobs.order_by("submitted_at", "pk")
