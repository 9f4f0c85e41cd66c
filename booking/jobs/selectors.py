"""Job reads scoped to the user: a job of a project you are not a member of is 404.

The queue itself (position, estimated start, the overview per GPU type) is read in
``booking.jobs.queue``; what it is ordered by in ``booking.jobs.priority``.
"""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Count, Min, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from accounts.models import User
from booking.models import (
    ACTIVE_STATES,
    ClusterCancel,
    GpuType,
    Job,
    JobEvent,
    JobState,
    Project,
    ProjectMember,
    QueueOutlook,
    QueueStanding,
)
from stargate_portal.permissions import is_staff

QUEUED_STATES = (JobState.PENDING, JobState.HELD, *ACTIVE_STATES)
BEFORE_ANY_CYCLE = datetime(2000, 1, 1, tzinfo=UTC)
LIST_LEAVES_OUT = ("script", "command", "environment", "submit_response")
"""What a list of jobs leaves in the database: what a job runs (up to 64 KiB of script, a
command and its environment: only the job's own page and the cluster read them), and the stored
answer to its submit (about 1 KiB of JSON for every job submitted with an Idempotency-Key,
read only when the key is sent again)."""


def job_rows(jobs: QuerySet[Job]) -> QuerySet[Job]:
    """``jobs`` for a list: with their project, GPU type and submitter, without
    ``LIST_LEAVES_OUT`` (25 jobs of 64 KiB scripts would be 1.6 MB read, sent and decoded for
    one page)."""
    return jobs.select_related("project", "gpu_type", "submitted_by").defer(*LIST_LEAVES_OUT)


def jobs_of(user: User) -> QuerySet[Job]:
    """Jobs of the projects the user is a member of (staff: every job)."""
    qs = Job.objects.select_related("project", "gpu_type", "submitted_by")
    if is_staff(user):
        return qs
    return qs.filter(project_id__in=_member_project_ids(user))


def job_of(user: User, pk: int) -> Job:
    return get_object_or_404(jobs_of(user), pk=pk)


def job_history(job: Job) -> QuerySet[JobEvent]:
    return job.events.select_related("actor").order_by("at", "pk")


def listed_jobs_of(user: User) -> QuerySet[Job]:
    """``jobs_of`` for a list (the API's), as ``job_rows``."""
    return job_rows(jobs_of(user))


def member_jobs(user: User) -> QuerySet[Job]:
    """Jobs of the projects the user is a member of, newest first (staff: only their own)."""
    jobs = job_rows(Job.objects.filter(project_id__in=_member_project_ids(user)))
    return jobs.order_by("-submitted_at", "-pk")


def _member_project_ids(user: User) -> list[int]:
    """The user's projects as a list of ids (one small query), not a join: the planner then
    walks the jobs newest first through an index and stops at the page, whatever the
    statistics of the membership table say (a join let it read every job of the projects:
    14,000 of the busy project's on the benchmark site, 30 ms, for the API's job list)."""
    return list(ProjectMember.objects.filter(user=user).values_list("project_id", flat=True))


def gpu_type_names() -> list[str]:
    """Every GPU type the site offers (public data), by name."""
    return list(GpuType.objects.order_by("name").values_list("name", flat=True))


@dataclass(frozen=True)
class JobCounts:
    """Jobs of a project per state, and the GPUs its admitted and running jobs use."""

    pending: int = 0
    held: int = 0
    admitted: int = 0
    running: int = 0
    gpus_in_use: int = 0


def pending_since_record() -> Q:
    """Pending jobs the last cycle's queue record does not hold: those submitted since (all of
    them before the first cycle). One query for the record: its highest job id (jobs with a
    higher one are newer, whatever the cluster's clock says: a simulator's may run ahead of
    the wall clock, or stand still), or its time for a record written before ids were kept.
    As a value, not a subquery, so the planner sees how few jobs are that recent."""
    last = QueueOutlook.objects.order_by("-published_at").values_list("last_job_id", "published_at")
    row = last.first()
    if row is None:
        return Q(state=JobState.PENDING, submitted_at__gt=BEFORE_ANY_CYCLE)
    last_job_id, published_at = row
    if last_job_id is None:
        return Q(state=JobState.PENDING, submitted_at__gt=published_at)
    return Q(state=JobState.PENDING, pk__gt=last_job_id)


def job_counts(project_ids: Collection[int]) -> dict[int, JobCounts]:
    """Project id → its queued and active jobs (three queries, none reading a project's queue).

    Pending and active (admitted + running) jobs come from the last admission cycle's record,
    plus the jobs submitted since; held and admitted jobs, which are few, are counted now.
    Before the first cycle every pending job is counted.
    """
    ids = list(project_ids)
    figures: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    recorded = (
        QueueStanding.objects.filter(project_id__in=ids)
        .values("project_id")
        .annotate(pending=Sum("pending_jobs"), active=Sum("active_jobs"), gpus=Sum("active_gpus"))
    )
    for row in recorded:
        counts = figures[row["project_id"]]
        counts["pending"] += row["pending"]
        counts["running"] += row["active"]
        counts["gpus_in_use"] += row["gpus"]
    current = (
        Job.objects.filter(
            Q(state__in=(JobState.HELD, JobState.ADMITTED)) | pending_since_record(),
            project_id__in=ids,
        )
        .order_by()
        .values("project_id", "state")
        .annotate(n=Count("pk"))
    )
    for now_row in current:
        counts = figures[now_row["project_id"]]
        counts[now_row["state"]] += now_row["n"]
        if now_row["state"] == JobState.ADMITTED:
            # The record counts admitted and running jobs together.
            counts["running"] = max(counts["running"] - now_row["n"], 0)
    return {pk: JobCounts(**values) for pk, values in figures.items()}


def project_live_jobs(project: Project, *, limit: int) -> list[Job]:
    """The project's running, admitted, pending and held jobs: running first, then oldest.

    Two queries: the keys (id, state, submit time) of four index-bounded parts (never a sort
    of the project's whole queue; four queries on SQLite, which allows no LIMIT in the parts
    of a UNION), then the ``limit`` rows shown. One query of whole rows joined to their
    project, GPU type and submitter took longer to plan than to run, and built up to four
    times the rows it showed. ``project`` is one the user may see (``project_of``)."""
    order = (JobState.RUNNING, JobState.ADMITTED, JobState.PENDING, JobState.HELD)
    jobs = Job.objects.filter(project=project)
    parts = [
        jobs.filter(state=state)
        .order_by("submitted_at", "pk")
        .values_list("pk", "state", "submitted_at")[:limit]
        for state in order
    ]
    if connection.features.supports_slicing_ordering_in_compound:
        keys = list(parts[0].union(*parts[1:], all=True))
    else:
        keys = [key for part in parts for key in part]
    rank = {state: index for index, state in enumerate(order)}
    shown = sorted(keys, key=lambda key: (rank[JobState(key[1])], key[2], key[0]))[:limit]
    rows = job_rows(Job.objects.filter(pk__in=[pk for pk, _state, _at in shown])).in_bulk()
    return [rows[pk] for pk, _state, _at in shown if pk in rows]


@dataclass(frozen=True)
class CancelsWaiting:
    """Jobs stopped in the books whose cancel the cluster has not taken yet."""

    count: int
    oldest: datetime | None


def cluster_cancels_waiting() -> CancelsWaiting:
    """How many cancels wait for the cluster and since when (one read of a table that is
    empty while the cluster answers; it grows only while it does not)."""
    found = ClusterCancel.objects.aggregate(count=Count("pk"), oldest=Min("requested_at"))
    return CancelsWaiting(found["count"], found["oldest"])


def cancel_waits_for_cluster(job: Job) -> bool:
    """A cancelled job whose cancel the cluster has not taken yet (it may still run there).
    Reads nothing for a job in any other state: the pages that poll a waiting job pay
    nothing for it."""
    if job.state != JobState.CANCELLED:
        return False
    return ClusterCancel.objects.filter(key=job.submission_key).exists()
