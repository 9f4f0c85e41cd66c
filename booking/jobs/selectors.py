"""Job reads scoped to the user: a job of a project you are not a member of is 404.

The queue itself (position, estimated start, the overview per GPU type) is read in
``booking.jobs.queue``; what it is ordered by in ``booking.jobs.priority``.
"""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, QuerySet, Sum, When
from django.shortcuts import get_object_or_404

from accounts.models import User
from booking.models import ACTIVE_STATES, GpuType, Job, JobEvent, JobState, Project
from stargate_portal.permissions import is_staff

QUEUED_STATES = (JobState.PENDING, JobState.HELD, *ACTIVE_STATES)


def jobs_of(user: User) -> QuerySet[Job]:
    """Jobs of the projects the user is a member of (staff: every job)."""
    qs = Job.objects.select_related("project", "gpu_type", "submitted_by")
    if is_staff(user):
        return qs
    return qs.filter(project__members__user=user)


def job_of(user: User, pk: int) -> Job:
    return get_object_or_404(jobs_of(user), pk=pk)


def job_history(job: Job) -> QuerySet[JobEvent]:
    return job.events.select_related("actor").order_by("at", "pk")


def member_jobs(user: User) -> QuerySet[Job]:
    """Jobs of the projects the user is a member of, newest first (staff: only their own)."""
    jobs = jobs_of(user)
    if is_staff(user):
        jobs = jobs.filter(project__members__user=user)
    return jobs.order_by("-submitted_at", "-pk")


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
