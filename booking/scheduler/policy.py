"""The admission cycle: which pending jobs start now, and why the others wait."""

from __future__ import annotations

import time
from collections.abc import Sequence

from booking.scheduler.capacity import NodePool
from booking.scheduler.cycle_state import CycleState
from booking.scheduler.jobs import PendingJob
from booking.scheduler.outcome import CycleResult, WaitReason
from booking.scheduler.snapshot import Snapshot
from booking.scheduler.type_round import TypeRound


def admission_cycle(snapshot: Snapshot) -> CycleResult:
    """Decide admissions for one cycle: bookings first, then each GPU type by priority.

    Pure: reads the snapshot, works on copies of the node pools, returns the decisions.
    """
    started = time.perf_counter()
    state = CycleState(snapshot)
    pools = {gpu_type: cap.pool.copy() for gpu_type, cap in snapshot.capacity.items()}
    for booking_id, queue in sorted(snapshot.pending.booked().items()):
        _admit_booked(state, snapshot, pools, booking_id, queue)
    # GPU types share projects' fair share and running-GPU limits, so a fixed order keeps
    # cycles reproducible.
    for gpu_type in sorted(snapshot.capacity):
        queues = snapshot.pending.by_project(gpu_type)
        if queues:
            TypeRound(state, snapshot.capacity[gpu_type], pools[gpu_type], queues).run()
    return state.result(time.perf_counter() - started)


def _admit_booked(
    state: CycleState,
    snapshot: Snapshot,
    pools: dict[str, NodePool],
    booking_id: int,
    queue: Sequence[PendingJob],
) -> None:
    """Start a booking's jobs in submit order on its own nodes; the booking is paid already."""
    head = queue[0]
    project = state.projects.get(head.project_id)
    booking = snapshot.bookings.get(booking_id)
    if project is None or booking is None or booking.gpu_type not in pools:
        return
    if project.suspended:
        state.wait(head, WaitReason.PROJECT_SUSPENDED)
        return
    if not booking.is_open(state.config.now):
        state.wait(head, WaitReason.BOOKING_NOT_STARTED)
        return
    pool = pools[booking.gpu_type]
    state.queue_heads += 1
    for job in queue:
        state.jobs_examined += 1
        placement = pool.place_within(booking.node_indices, job.gpus)
        if placement is None:
            state.wait(job, WaitReason.CAPACITY)
            return
        state.admit(project, job, placement, hold=False)
