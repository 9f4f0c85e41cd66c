"""Jobs as the admission policy sees them: pending ones compete, running ones free GPUs."""

from __future__ import annotations

from dataclasses import dataclass

from booking.scheduler.hours import hold_gpu_hours

Placement = tuple[tuple[int, int], ...]
"""GPUs a job holds, as ``((node_index, gpus), ...)``; node indices count within one GPU type."""


@dataclass(frozen=True, slots=True)
class PendingJob:
    """A job waiting for admission; ``submit_time`` is epoch seconds."""

    job_id: str
    project_id: int
    gpu_type: str
    gpus: int
    walltime_minutes: int
    submit_time: float
    booking_id: int | None = None
    strict_order: bool = False
    """Start only after the project's earlier jobs of this GPU type (e.g. a dependency); other
    jobs may backfill past a blocked earlier job of their project."""

    @property
    def walltime_seconds(self) -> float:
        return self.walltime_minutes * 60.0

    @property
    def hold_gpu_hours(self) -> float:
        """GPU-hours held from the project's budget on admission: gpus times walltime, in the
        ledger's unit, so the policy compares the very amount the ledger will hold."""
        return float(hold_gpu_hours(self.gpus, self.walltime_minutes))


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A job holding GPUs until ``expected_end`` (epoch seconds: start + walltime)."""

    job_id: str
    project_id: int
    gpu_type: str
    gpus: int
    expected_end: float
    placement: Placement
