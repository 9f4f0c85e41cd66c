"""One GPU type's pass over its heap of project queue heads, with EASY backfill."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

from booking.scheduler.capacity import GpuTypeCapacity, NodePool, Release, shadow_time
from booking.scheduler.cycle_state import CycleState
from booking.scheduler.jobs import PendingJob, Placement
from booking.scheduler.outcome import Reservation, WaitReason
from booking.scheduler.snapshot import Project

HeadKey = tuple[int, float, float, int]
"""``(tier, fair_share, submit_time, project_id)``: the smallest key goes first."""

_NO_TIER = 1 << 30


def head_key(project: Project, fair_share: float, head: PendingJob) -> HeadKey:
    """Where a project's queue head stands in its GPU type's heap (the queue's order)."""
    return (project.tier, fair_share, head.submit_time, project.project_id)


_WAITING_FOR_GPUS = (WaitReason.CAPACITY, WaitReason.PRIORITY)


class TypeRound:
    """Admits jobs of one GPU type; costs O(P log P + A log P), never O(pending jobs)."""

    __slots__ = (
        "_admitted",
        "_backfill_tests",
        "_best_waiting_tier",
        "_blocked",
        "_capacity",
        "_cursor",
        "_heap",
        "_pool",
        "_queues",
        "_reservation",
        "_state",
        "_tier_cap_gpus",
        "_tier_gpus",
    )

    def __init__(
        self,
        state: CycleState,
        capacity: GpuTypeCapacity,
        pool: NodePool,
        queues: Mapping[int, Sequence[PendingJob]],
    ) -> None:
        self._state = state
        self._capacity = capacity
        self._pool = pool
        self._queues = queues
        self._cursor: dict[int, int] = {}
        self._blocked: set[int] = set()
        """Projects with a job of this type waiting for GPUs: their later jobs backfill."""
        self._heap: list[HeadKey] = []
        self._reservation: Reservation | None = None
        self._backfill_tests = 0
        self._admitted: list[Release] = []
        self._best_waiting_tier = _NO_TIER
        self._tier_cap_gpus: dict[int, int] = {}
        self._tier_gpus: dict[int, int] = {}
        self._count_capped_tiers()
        self._fill_heap()

    def _count_capped_tiers(self) -> None:
        """GPUs of this type already held by each capped tier, and the cap in GPUs."""
        caps = self._state.config.tier_caps
        for capped, fraction in caps.items():
            self._tier_cap_gpus[capped] = int(fraction * self._capacity.total_gpus)
            self._tier_gpus[capped] = 0
        # Every project running on this type counts, also one with nothing pending.
        tier_of = self._state.snapshot.tier_of
        for project_id, gpus in self._capacity.running_gpus_by_project.items():
            tier = tier_of(project_id)
            if tier is not None and tier in caps:
                self._tier_gpus[tier] += gpus

    def _fill_heap(self) -> None:
        state = self._state
        for project_id, queue in self._queues.items():
            project = state.projects.get(project_id)
            if project is None or not queue:
                continue
            if project.suspended:
                state.wait(queue[0], WaitReason.PROJECT_SUSPENDED)
                continue
            self._heap.append(self._key(project, queue[0]))
        state.queue_heads += len(self._heap)
        heapq.heapify(self._heap)

    def _key(self, project: Project, head: PendingJob) -> HeadKey:
        return head_key(project, self._state.fair_share(project), head)

    def run(self) -> None:
        """Pop heads in priority order until the heap is empty or nothing more can start."""
        max_tests = self._state.config.backfill_max_job_test
        while self._heap:
            if self._pool.free_gpus == 0:
                # A full type is left at once instead of popping every head.
                self._leave(WaitReason.CAPACITY)
                return
            if self._reservation is not None:
                if self._backfill_tests >= max_tests:
                    self._leave(WaitReason.PRIORITY)
                    return
                self._backfill_tests += 1
            self._examine(heapq.heappop(self._heap)[-1])

    def _examine(self, project_id: int) -> None:
        project = self._state.projects[project_id]
        queue = self._queues[project_id]
        cursor = self._cursor.get(project_id, 0)
        job = queue[cursor]
        self._state.jobs_examined += 1
        if job.strict_order and project_id in self._blocked:
            # It asked to start after its project's earlier jobs, one of which still waits.
            self._state.wait(job, WaitReason.PRIORITY)
            self._next(project, cursor + 1)
            return
        reason = self._state.project_reason(project, job) or self._tier_cap_reason(project, job)
        outcome = reason if reason is not None else self._place(job)
        if isinstance(outcome, WaitReason):
            self._state.wait(job, outcome)
            if outcome in _WAITING_FOR_GPUS:
                self._best_waiting_tier = min(self._best_waiting_tier, project.tier)
                # The project's later jobs stay backfill candidates under the EASY rule, so
                # a blocked job does not block its own project.
                self._blocked.add(project_id)
                self._next(project, cursor + 1)
            # Budget, limits and caps keep the project's later jobs behind their head.
            return
        self._admit(project, job, outcome)
        self._next(project, cursor + 1)

    def _next(self, project: Project, cursor: int) -> None:
        """Push the project's job at ``cursor`` (its next candidate), if any."""
        queue = self._queues[project.project_id]
        self._cursor[project.project_id] = cursor
        if cursor < len(queue):
            heapq.heappush(self._heap, self._key(project, queue[cursor]))

    def _tier_cap_reason(self, project: Project, job: PendingJob) -> WaitReason | None:
        """A capped tier stays under its share while a better tier waits for these GPUs."""
        cap = self._tier_cap_gpus.get(project.tier)
        if cap is None or self._best_waiting_tier >= project.tier:
            return None
        if self._tier_gpus[project.tier] + job.gpus > cap:
            return WaitReason.TIER_CAP
        return None

    def _place(self, job: PendingJob) -> Placement | WaitReason:
        """Place now; after a reservation only jobs that end before its shadow time."""
        pool = self._pool
        reservation = self._reservation
        if reservation is None:
            placement = pool.place(job.gpus)
            if placement is None:
                self._reserve(job)
                return WaitReason.CAPACITY
            return placement
        if not pool.fits(job.gpus):
            return WaitReason.CAPACITY
        if self._state.config.now + job.walltime_seconds > reservation.shadow_time:
            return WaitReason.PRIORITY
        return pool.place(job.gpus) or WaitReason.CAPACITY

    def _reserve(self, job: PendingJob) -> None:
        """Give the first capacity-blocked job a start time no backfilled job may delay."""
        now = self._state.config.now
        releases = heapq.merge(self._capacity.releases(), sorted(self._admitted))
        reservation = Reservation(job.job_id, shadow_time(self._pool, job.gpus, releases, now))
        self._reservation = reservation
        self._state.reservations[self._capacity.gpu_type] = reservation

    def _admit(self, project: Project, job: PendingJob, placement: Placement) -> None:
        self._state.admit(project, job, placement, hold=True)
        end = self._state.config.now + job.walltime_seconds
        self._admitted.append((end, job.job_id, placement))
        if project.tier in self._tier_gpus:
            self._tier_gpus[project.tier] += job.gpus

    def _leave(self, reason: WaitReason) -> None:
        """Give every head still in the heap the reason the type was left; O(P), no pops."""
        for *_key, project_id in self._heap:
            job = self._queues[project_id][self._cursor.get(project_id, 0)]
            self._state.wait(job, reason)
        self._heap.clear()
