"""GPU capacity of one GPU type: nodes bucketed by free GPUs, running jobs by expected end."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from operator import itemgetter

from booking.scheduler.jobs import Placement, RunningJob

Release = tuple[float, str, Placement]
"""``(expected_end, job_id, placement)``: when a job's GPUs come back."""


def _whole_node_shares(gpus: int, gpus_per_node: int) -> list[int]:
    """GPUs per node for a job bigger than one node: full nodes, the remainder on the last."""
    count = -(-gpus // gpus_per_node)
    return [gpus_per_node] * (count - 1) + [gpus - gpus_per_node * (count - 1)]


class NodePool:
    """Free GPUs per node, bucketed by free count so fit checks cost O(gpus_per_node).

    Booked nodes (``excluded``) keep their free count but stay out of the buckets: only jobs of
    their booking may use them.
    """

    __slots__ = ("buckets", "excluded", "free", "free_gpus", "gpus_per_node")

    def __init__(
        self,
        free_gpus_per_node: Sequence[int],
        *,
        gpus_per_node: int = 8,
        excluded: Iterable[int] = (),
    ) -> None:
        self.gpus_per_node = gpus_per_node
        self.free = [min(max(free, 0), gpus_per_node) for free in free_gpus_per_node]
        self.excluded = frozenset(excluded)
        self.buckets: list[set[int]] = []
        self.free_gpus = 0
        self._rebucket()

    def _rebucket(self) -> None:
        self.buckets = [set() for _ in range(self.gpus_per_node + 1)]
        for node, free in enumerate(self.free):
            if node not in self.excluded:
                self.buckets[free].add(node)
        self.free_gpus = sum(
            free for node, free in enumerate(self.free) if node not in self.excluded
        )

    def set_excluded(self, nodes: Iterable[int]) -> None:
        """Take booked nodes out of (or give them back to) the general pool."""
        self.excluded = frozenset(nodes)
        self._rebucket()

    def copy(self) -> NodePool:
        """An independent working copy, cheap enough to take once per cycle."""
        clone = NodePool.__new__(NodePool)
        clone.gpus_per_node = self.gpus_per_node
        clone.free = self.free.copy()
        clone.excluded = self.excluded
        clone.buckets = [bucket.copy() for bucket in self.buckets]
        clone.free_gpus = self.free_gpus
        return clone

    @property
    def node_count(self) -> int:
        return len(self.free)

    def fully_free_nodes(self) -> int:
        return len(self.buckets[self.gpus_per_node])

    def fits(self, gpus: int) -> bool:
        """Whether ``gpus`` can be placed now (one node, or whole free nodes for big jobs)."""
        per_node = self.gpus_per_node
        if gpus > per_node:
            return len(self.buckets[per_node]) >= -(-gpus // per_node)
        return any(self.buckets[free] for free in range(gpus, per_node + 1))

    def place(self, gpus: int) -> Placement | None:
        """Take ``gpus`` best-fit (the fullest node with room) or on whole free nodes."""
        if gpus <= 0:
            return None
        if gpus > self.gpus_per_node:
            return self._place_on_whole_nodes(gpus)
        for free in range(gpus, self.gpus_per_node + 1):
            bucket = self.buckets[free]
            if bucket:
                node = bucket.pop()
                self.buckets[free - gpus].add(node)
                self.free[node] = free - gpus
                self.free_gpus -= gpus
                return ((node, gpus),)
        return None

    def _place_on_whole_nodes(self, gpus: int) -> Placement | None:
        shares = _whole_node_shares(gpus, self.gpus_per_node)
        full = self.buckets[self.gpus_per_node]
        if len(full) < len(shares):
            return None
        placement = tuple((full.pop(), share) for share in shares)
        for node, share in placement:
            self.free[node] = self.gpus_per_node - share
            self.buckets[self.free[node]].add(node)
        self.free_gpus -= gpus
        return placement

    def place_within(self, nodes: Sequence[int], gpus: int) -> Placement | None:
        """Best-fit placement restricted to ``nodes`` (a booking's nodes); O(len(nodes))."""
        per_node = self.gpus_per_node
        if gpus <= 0:
            return None
        if gpus > per_node:
            shares = _whole_node_shares(gpus, per_node)
            whole = [node for node in nodes if self.free[node] == per_node][: len(shares)]
            if len(whole) < len(shares):
                return None
            placement: Placement = tuple(zip(whole, shares, strict=True))
        else:
            roomy = [node for node in nodes if self.free[node] >= gpus]
            if not roomy:
                return None
            placement = ((min(roomy, key=self.free.__getitem__), gpus),)
        self.take(placement)
        return placement

    def take(self, placement: Placement) -> None:
        """Mark a placement decided elsewhere (a job that started) as used."""
        for node, gpus in placement:
            self._set_free(node, self.free[node] - gpus)

    def release(self, placement: Placement) -> None:
        """Give a finished job's GPUs back."""
        for node, gpus in placement:
            self._set_free(node, self.free[node] + gpus)

    def _set_free(self, node: int, free: int) -> None:
        free = min(max(free, 0), self.gpus_per_node)
        if node not in self.excluded:
            self.buckets[self.free[node]].discard(node)
            self.buckets[free].add(node)
            self.free_gpus += free - self.free[node]
        self.free[node] = free


def shadow_time(pool: NodePool, gpus: int, releases: Iterable[Release], now: float) -> float:
    """Earliest time ``gpus`` fit in ``pool`` as jobs end in ``releases`` order; inf if never."""
    per_node = pool.gpus_per_node
    nodes_needed = -(-gpus // per_node) if gpus > per_node else 0
    full_nodes = pool.fully_free_nodes()
    # Only touched nodes are tracked, so the walk costs O(jobs walked), not O(nodes).
    freed: dict[int, int] = {}
    for end, _job_id, placement in releases:
        for node, share in placement:
            if node in pool.excluded:
                continue
            before = freed.get(node, pool.free[node])
            after = min(before + share, per_node)
            freed[node] = after
            if not nodes_needed and after >= gpus:
                return max(end, now)
            if after == per_node and before < per_node:
                full_nodes += 1
        if nodes_needed and full_nodes >= nodes_needed:
            return max(end, now)
    return math.inf


class GpuTypeCapacity:
    """One GPU type: its node pool, its running jobs ordered by end, GPUs used per project.

    Keep one between cycles and update it from events (``start_job``/``end_job``) rather than
    rebuilding it; a cycle only reads it and works on a copy of the pool.
    """

    __slots__ = (
        "_releases",
        "_running",
        "gpu_type",
        "pool",
        "running_gpus_by_project",
        "running_jobs_by_project",
    )

    def __init__(
        self,
        gpu_type: str,
        free_gpus_per_node: Sequence[int],
        *,
        gpus_per_node: int = 8,
        booked_nodes: Iterable[int] = (),
    ) -> None:
        self.gpu_type = gpu_type
        self.pool = NodePool(free_gpus_per_node, gpus_per_node=gpus_per_node, excluded=booked_nodes)
        self._releases: list[Release] = []
        self._running: dict[str, RunningJob] = {}
        self.running_gpus_by_project: dict[int, int] = {}
        self.running_jobs_by_project: dict[int, int] = {}

    @property
    def gpus_per_node(self) -> int:
        return self.pool.gpus_per_node

    @property
    def total_gpus(self) -> int:
        return self.pool.node_count * self.pool.gpus_per_node

    @property
    def free_gpus(self) -> int:
        """Free GPUs outside booked nodes."""
        return self.pool.free_gpus

    def releases(self) -> Sequence[Release]:
        """Running jobs as ``(expected_end, job_id, placement)``, earliest end first."""
        return self._releases

    def running_job(self, job_id: str) -> RunningJob | None:
        return self._running.get(job_id)

    def track_job(self, job: RunningJob) -> None:
        """Register a running job whose GPUs the free counts already exclude."""
        if job.job_id in self._running:
            return
        self._running[job.job_id] = job
        bisect.insort(self._releases, (job.expected_end, job.job_id, job.placement))
        by_project = self.running_gpus_by_project
        by_project[job.project_id] = by_project.get(job.project_id, 0) + job.gpus
        counts = self.running_jobs_by_project
        counts[job.project_id] = counts.get(job.project_id, 0) + 1

    def start_job(self, job: RunningJob) -> None:
        """Register a job that just started: its placement's GPUs are taken from the pool."""
        if job.job_id not in self._running:
            self.pool.take(job.placement)
            self.track_job(job)

    def end_job(self, job_id: str) -> RunningJob | None:
        """Forget a finished job and give its GPUs back; None if it was not running here."""
        job = self._running.pop(job_id, None)
        if job is None:
            return None
        index = bisect.bisect_left(self._releases, (job.expected_end, job.job_id))
        del self._releases[index]
        self.pool.release(job.placement)
        left = self.running_gpus_by_project[job.project_id] - job.gpus
        if left > 0:
            self.running_gpus_by_project[job.project_id] = left
        else:
            del self.running_gpus_by_project[job.project_id]
        jobs_left = self.running_jobs_by_project[job.project_id] - 1
        if jobs_left > 0:
            self.running_jobs_by_project[job.project_id] = jobs_left
        else:
            del self.running_jobs_by_project[job.project_id]
        return job

    def jobs_due(self, until: float) -> list[str]:
        """Running jobs expected to have ended by ``until``, earliest first."""
        index = bisect.bisect_right(self._releases, until, key=itemgetter(0))
        return [job_id for _end, job_id, _placement in self._releases[:index]]
