"""Small hand-checked sites for the admission policy tests: one GPU type, a few 8-GPU nodes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from booking.scheduler import (
    Booking,
    PendingJob,
    PolicyConfig,
    Project,
    RunningJob,
    Snapshot,
    admission_cycle,
)

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
HOUR = 3600.0
H100 = "H100"


def project(
    project_id: int,
    *,
    tier: int = 1,
    budget_gpu_hours: float = 10_000.0,
    usage_gpu_hours: float = 0.0,
    allocated_gpu_hours: float = 10_000.0,
    max_running_gpus: int | None = None,
    suspended: bool = False,
    running_gpus: int = 0,
    usage_as_of: float | None = None,
) -> Project:
    return Project(
        project_id=project_id,
        tier=tier,
        available_gpu_hours={H100: budget_gpu_hours},
        decayed_usage_gpu_hours=usage_gpu_hours,
        allocated_gpu_hours=allocated_gpu_hours,
        max_running_gpus=max_running_gpus,
        suspended=suspended,
        running_gpus=running_gpus,
        usage_as_of=usage_as_of,
    )


def job(
    job_id: str,
    project_id: int,
    *,
    gpus: int = 1,
    hours: float = 1,
    submitted_minutes_ago: float = 60,
    booking_id: int | None = None,
    strict_order: bool = False,
) -> PendingJob:
    return PendingJob(
        job_id=job_id,
        project_id=project_id,
        gpu_type=H100,
        gpus=gpus,
        walltime_minutes=round(hours * 60),
        submit_time=NOW - submitted_minutes_ago * 60,
        booking_id=booking_id,
        strict_order=strict_order,
    )


def running(
    job_id: str, project_id: int, *, on: Mapping[int, int], ends_in_hours: float
) -> RunningJob:
    """A running job holding ``on[node]`` GPUs on each node, ending ``ends_in_hours`` from now."""
    return RunningJob(
        job_id=job_id,
        project_id=project_id,
        gpu_type=H100,
        gpus=sum(on.values()),
        expected_end=NOW + ends_in_hours * HOUR,
        placement=tuple(on.items()),
    )


def site(
    *,
    nodes: int,
    projects: Iterable[Project],
    pending: Iterable[PendingJob],
    running_jobs: Sequence[RunningJob] = (),
    bookings: Iterable[Booking] = (),
    now: float = NOW,
    tiers: Mapping[int, int] | None = None,
    **config: object,
) -> Snapshot:
    """A snapshot of ``nodes`` 8-GPU H100 nodes; the running jobs' GPUs are taken from them."""
    free = [8] * nodes
    for running_job in running_jobs:
        for node, gpus in running_job.placement:
            free[node] -= gpus
    pending_by_project: dict[int, list[PendingJob]] = {}
    for pending_job in pending:
        pending_by_project.setdefault(pending_job.project_id, []).append(pending_job)
    return Snapshot.build(
        config=PolicyConfig(now=now, **config),  # type: ignore[arg-type]
        projects=projects,
        pending_by_project=pending_by_project,
        running=running_jobs,
        free_gpus_per_node={H100: free},
        bookings=bookings,
        tiers=tiers,
    )


def admitted_ids(snapshot: Snapshot) -> list[str]:
    return [admission.job_id for admission in admission_cycle(snapshot).admissions]
