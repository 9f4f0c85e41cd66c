"""What one admission cycle reads: projects, pending queues, capacity, bookings and settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from booking.scheduler.capacity import GpuTypeCapacity
from booking.scheduler.jobs import PendingJob, RunningJob
from booking.scheduler.queues import PendingQueues

WEEK_SECONDS = 7 * 24 * 3600.0


def _default_tier_caps() -> dict[int, float]:
    return {4: 0.20}


@dataclass(frozen=True, slots=True)
class Project:
    """A project as the policy sees it; ``tier`` 1..4, lower wins.

    ``decayed_usage_gpu_hours`` is usage decayed up to ``usage_as_of`` (None: up to now); the
    policy decays it the rest of the way with the configured half-life.
    """

    project_id: int
    tier: int
    available_gpu_hours: Mapping[str, float]
    decayed_usage_gpu_hours: float
    allocated_gpu_hours: float
    max_running_gpus: int | None = None
    suspended: bool = False
    running_gpus: int = 0
    usage_as_of: float | None = None


@dataclass(frozen=True, slots=True)
class Booking:
    """Whole nodes of one GPU type booked by a project for ``[start, end)`` (epoch seconds).

    The nodes stay out of the general pool for as long as the booking is in the snapshot, so
    pass only bookings that are running or start soon (within the longest walltime).
    """

    booking_id: int
    project_id: int
    gpu_type: str
    start: float
    end: float
    node_indices: tuple[int, ...]

    def is_open(self, now: float) -> bool:
        return self.start <= now < self.end


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Settings of one cycle; ``now`` is epoch seconds.

    ``tier_caps`` maps a tier to the fraction of a GPU type's GPUs its jobs may hold while jobs
    of better tiers wait for that type.
    """

    now: float
    tier_caps: Mapping[int, float] = field(default_factory=_default_tier_caps)
    backfill_max_job_test: int = 100
    fair_share_half_life_seconds: float = WEEK_SECONDS


@dataclass(slots=True)
class Snapshot:
    """Everything an admission cycle reads; the cycle never modifies it."""

    config: PolicyConfig
    projects: dict[int, Project]
    pending: PendingQueues
    capacity: dict[str, GpuTypeCapacity]
    bookings: dict[int, Booking] = field(default_factory=dict)
    tiers: Mapping[int, int] = field(default_factory=dict)
    """Tier of every project with running GPUs, also those with nothing pending (absent from
    ``projects``): a tier cap counts every running GPU of its tier."""

    def tier_of(self, project_id: int) -> int | None:
        """The project's tier, from ``projects`` or else ``tiers``; None if unknown."""
        project = self.projects.get(project_id)
        if project is not None:
            return project.tier
        return self.tiers.get(project_id)

    @classmethod
    def build(
        cls,
        *,
        config: PolicyConfig,
        projects: Iterable[Project],
        pending_by_project: Mapping[int, Sequence[PendingJob]],
        running: Iterable[RunningJob],
        free_gpus_per_node: Mapping[str, Sequence[int]],
        bookings: Iterable[Booking] = (),
        gpus_per_node: int = 8,
        tiers: Mapping[int, int] | None = None,
    ) -> Snapshot:
        """Assemble a snapshot from plain lists; the free counts already exclude running jobs."""
        kept_bookings = {b.booking_id: b for b in bookings if b.end > config.now}
        capacity = {
            gpu_type: GpuTypeCapacity(
                gpu_type,
                free,
                gpus_per_node=gpus_per_node,
                booked_nodes=_booked_nodes(kept_bookings.values(), gpu_type),
            )
            for gpu_type, free in free_gpus_per_node.items()
        }
        for job in running:
            if job.gpu_type in capacity:
                capacity[job.gpu_type].track_job(job)
        return cls(
            config=config,
            projects={project.project_id: project for project in projects},
            pending=PendingQueues.from_pending_by_project(pending_by_project),
            capacity=capacity,
            bookings=kept_bookings,
            tiers=dict(tiers or {}),
        )


def _booked_nodes(bookings: Iterable[Booking], gpu_type: str) -> set[int]:
    return {node for b in bookings if b.gpu_type == gpu_type for node in b.node_indices}
