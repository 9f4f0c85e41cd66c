"""What an admission cycle decides: admissions, reasons for waiting, backfill reservations."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from booking.scheduler.jobs import Placement, RunningJob


class WaitReason(StrEnum):
    """Why a queue head was not admitted; the same codes the API and portal show."""

    PRIORITY = "priority"
    CAPACITY = "capacity"
    BUDGET = "budget"
    TIER_CAP = "tier_cap"
    PROJECT_LIMIT = "project_limit"
    PROJECT_SUSPENDED = "project_suspended"
    BOOKING_NOT_STARTED = "booking_not_started"


@dataclass(frozen=True, slots=True)
class Admission:
    """Start this job now on ``placement`` and hold ``hold_gpu_hours`` of its budget."""

    job_id: str
    project_id: int
    gpu_type: str
    gpus: int
    hold_gpu_hours: float
    placement: Placement
    expected_end: float
    booking_id: int | None = None

    def running_job(self) -> RunningJob:
        """The running job this admission becomes once the cluster has started it."""
        return RunningJob(
            job_id=self.job_id,
            project_id=self.project_id,
            gpu_type=self.gpu_type,
            gpus=self.gpus,
            expected_end=self.expected_end,
            placement=self.placement,
        )


class Reservation(NamedTuple):
    """EASY backfill: the blocked job a GPU type keeps room for, from ``shadow_time`` on."""

    job_id: str
    shadow_time: float


@dataclass(frozen=True, slots=True)
class CycleStats:
    jobs_examined: int
    queue_heads: int
    duration_seconds: float


@dataclass(frozen=True, slots=True)
class CycleResult:
    """``waiting`` covers the queue heads the cycle looked at, not every pending job."""

    admissions: list[Admission]
    waiting: dict[str, WaitReason]
    reservations: dict[str, Reservation]
    stats: CycleStats
