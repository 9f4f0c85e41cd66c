"""Admission policy of the GPU job queue: pure Python, no Django, fed by a snapshot.

The Django adapter builds a ``Snapshot`` (or keeps one between cycles and updates it from
events), calls ``admission_cycle`` and applies the ``CycleResult`` in one transaction.
"""

from booking.scheduler.capacity import GpuTypeCapacity, NodePool, Release, shadow_time
from booking.scheduler.fair_share import decayed, fair_share_factor
from booking.scheduler.jobs import PendingJob, Placement, RunningJob
from booking.scheduler.outcome import (
    Admission,
    CycleResult,
    CycleStats,
    Reservation,
    WaitReason,
)
from booking.scheduler.policy import admission_cycle
from booking.scheduler.queues import PendingQueues
from booking.scheduler.snapshot import Booking, PolicyConfig, Project, Snapshot

__all__ = [
    "Admission",
    "Booking",
    "CycleResult",
    "CycleStats",
    "GpuTypeCapacity",
    "NodePool",
    "PendingJob",
    "PendingQueues",
    "Placement",
    "PolicyConfig",
    "Project",
    "Release",
    "Reservation",
    "RunningJob",
    "Snapshot",
    "WaitReason",
    "admission_cycle",
    "decayed",
    "fair_share_factor",
    "shadow_time",
]
