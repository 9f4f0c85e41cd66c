"""The queue as a cycle leaves it: each project's place per GPU type, and when GPUs free up.

After deciding, the cycle publishes a ``QueueRecord`` so that requests never walk the queue:

- per GPU type and project (``ProjectStanding``): the project's rank among the projects with
  pending jobs of the type (the order of the policy's heap, ``head_key``), the work of the
  projects ahead of it, its own pending work, its running jobs and GPUs, and a *mark* every
  ``mark_every`` jobs of its queue (the job there, how many jobs and GPUs come before it in the
  project's queue). A job's position is then the work ahead of its project, plus the mark just
  before it, plus at most ``mark_every`` jobs counted from the mark: bounded, whatever the
  queue's length;
- per GPU type (``TypeOutlook``): free and usable GPUs after the cycle, and when running jobs'
  walltimes free how many GPUs (``releases``, at most ``curve_points`` points).

Cost per cycle: O(P log P) for the ranks plus one pass over the pending jobs' sizes in C-level
``map``/``accumulate`` (no per-job Python code), and O(curve points) per type.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, islice
from operator import attrgetter, itemgetter, mul
from typing import NamedTuple

from booking.scheduler.capacity import GpuTypeCapacity, Release
from booking.scheduler.fair_share import decayed, fair_share_factor
from booking.scheduler.jobs import PendingJob
from booking.scheduler.outcome import Admission, CycleResult
from booking.scheduler.snapshot import Project, Snapshot
from booking.scheduler.type_round import HeadKey, head_key

MARK_EVERY = 200
"""Jobs of a project's queue between two marks: what a request counts at most."""
CURVE_POINTS = 256
"""Points of a GPU type's release curve."""

_gpus = attrgetter("gpus")
_walltime = attrgetter("walltime_minutes")
_NO_PROJECT_TIER = 99


class QueueMark(NamedTuple):
    """The job at ``position`` (from 0) of a project's queue and the work before it there."""

    submit_time: float
    job_id: str
    position: int
    gpus_before: int
    gpu_minutes_before: int


class WorkAhead(NamedTuple):
    """Pending jobs of the same GPU type the queue considers before a job."""

    jobs: int
    gpus: int
    gpu_minutes: int

    def plus(self, jobs: int, gpus: int, gpu_minutes: int) -> WorkAhead:
        return WorkAhead(self.jobs + jobs, self.gpus + gpus, self.gpu_minutes + gpu_minutes)


class ProjectStanding(NamedTuple):
    """One project's queue of one GPU type as the cycle left it (``rank`` None: none pending)."""

    gpu_type: str
    project_id: int
    tier: int
    rank: int | None
    ahead: WorkAhead
    pending_jobs: int
    pending_gpus: int
    pending_gpu_minutes: int
    active_jobs: int
    active_gpus: int
    marks: tuple[QueueMark, ...]

    def mark_before(self, submit_time: float, job_id: str) -> QueueMark | None:
        """The last mark at or before this job of the project's queue (None: before them all)."""
        keys = [(mark.submit_time, mark.job_id) for mark in self.marks]
        index = bisect.bisect_right(keys, (submit_time, job_id))
        return self.marks[index - 1] if index else None


@dataclass(frozen=True, slots=True)
class TypeOutlook:
    """A GPU type after the cycle: GPUs free now, and ``(time, GPUs freed by then)`` points."""

    gpu_type: str
    total_gpus: int
    usable_gpus: int
    used_gpus: int
    releases: tuple[tuple[float, int], ...]

    @property
    def free_gpus(self) -> int:
        return max(self.usable_gpus - self.used_gpus, 0)

    def estimated_start(
        self, *, ahead: WorkAhead, gpus: int, walltime_minutes: int, now: float
    ) -> float | None:
        """When running jobs' walltimes free enough GPUs for this job and the work ahead.

        Beyond one turnover of the running jobs, each further site-full of demand waits the
        mean walltime of the work ahead. None when the type has no usable GPUs.
        """
        if self.usable_gpus <= 0:
            return None
        short = ahead.gpus + gpus - self.free_gpus
        if short <= 0:
            return now
        index = bisect.bisect_left(self.releases, short, key=itemgetter(1))
        if index < len(self.releases):
            return max(self.releases[index][0], now)
        latest = self.releases[-1][0] if self.releases else now
        waves = math.ceil((short - self.used_gpus) / self.usable_gpus)
        mean_minutes = ahead.gpu_minutes / ahead.gpus if ahead.gpus else walltime_minutes
        return max(latest, now) + waves * mean_minutes * 60.0


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """One project's pending jobs of one GPU type: totals and marks (none for a queue of at most
    ``mark_every`` jobs: a request counts those from the queue's start). ``key`` (length,
    head, tail) tells whether the queue changed since they were computed."""

    key: tuple[int, str, str]
    work: WorkAhead
    marks: tuple[QueueMark, ...]


FiguresCache = dict[tuple[str, int], QueueFigures]
"""``(GPU type, project id)`` → the figures of that queue, kept between cycles."""


@dataclass(frozen=True, slots=True)
class QueueRecord:
    outlooks: dict[str, TypeOutlook]
    standings: list[ProjectStanding]
    figures: FiguresCache
    """The figures of every queue, to pass to the next cycle's ``queue_record``."""


class _Context:
    """What every GPU type's standings share: project keys and tiers, the queues' figures."""

    __slots__ = ("_tiers", "figures", "keys", "mark_every", "previous")

    def __init__(
        self,
        keys: dict[int, tuple[Project, float]],
        tiers: Mapping[int, int],
        previous: FiguresCache,
        mark_every: int,
    ) -> None:
        self.keys = keys
        self._tiers = tiers
        self.previous = previous
        self.figures: FiguresCache = {}
        self.mark_every = mark_every

    def tier(self, project_id: int) -> int:
        return _tier(self.keys.get(project_id), self._tiers.get(project_id))

    def figures_of(
        self, gpu_type: str, project_id: int, queue: Sequence[PendingJob], start: int
    ) -> QueueFigures:
        """The queue's figures from ``start`` on; recomputed only when the queue changed (a
        cycle changes few queues: admissions at heads, submissions at tails)."""
        key = (len(queue) - start, queue[start].job_id, queue[-1].job_id)
        figures = self.previous.get((gpu_type, project_id))
        if figures is None or figures.key != key:
            figures = _figures(queue[start:] if start else queue, key, self.mark_every)
        self.figures[(gpu_type, project_id)] = figures
        return figures


def _figures(
    queue: Sequence[PendingJob], key: tuple[int, str, str], mark_every: int
) -> QueueFigures:
    gpus = list(map(_gpus, queue))
    minutes = list(map(mul, gpus, map(_walltime, queue)))
    marks = _marks(queue, gpus, minutes, mark_every) if len(queue) > mark_every else ()
    return QueueFigures(key, WorkAhead(len(queue), sum(gpus), sum(minutes)), marks)


def queue_record(
    snapshot: Snapshot,
    result: CycleResult,
    *,
    tiers: Mapping[int, int] | None = None,
    figures: FiguresCache | None = None,
    mark_every: int = MARK_EVERY,
    curve_points: int = CURVE_POINTS,
) -> QueueRecord:
    """The queue after ``result`` is applied to ``snapshot`` (its admissions have left it).

    ``tiers`` gives the tier of projects the snapshot does not hold (only running jobs);
    ``figures`` are the previous record's, reused for the queues that did not change.
    """
    admitted: dict[str, list[Admission]] = defaultdict(list)
    for admission in result.admissions:
        if admission.booking_id is None:
            admitted[admission.gpu_type].append(admission)
    context = _Context(_project_keys(snapshot, result), tiers or {}, figures or {}, mark_every)
    outlooks: dict[str, TypeOutlook] = {}
    standings: list[ProjectStanding] = []
    for gpu_type, capacity in sorted(snapshot.capacity.items()):
        taken = admitted.get(gpu_type, [])
        outlooks[gpu_type] = _outlook(capacity, taken, curve_points)
        queues = snapshot.pending.by_project(gpu_type)
        standings += _type_standings(gpu_type, capacity, queues, taken, context)
    return QueueRecord(outlooks, standings, context.figures)


def _project_keys(snapshot: Snapshot, result: CycleResult) -> dict[int, tuple[Project, float]]:
    """Each project and its fair share after this cycle's entry penalties."""
    config = snapshot.config
    held: dict[int, float] = defaultdict(float)
    for admission in result.admissions:
        held[admission.project_id] += admission.hold_gpu_hours
    shares = {}
    for project in snapshot.projects.values():
        usage = project.decayed_usage_gpu_hours
        if project.usage_as_of is not None:
            usage = decayed(
                usage, project.usage_as_of, config.now, config.fair_share_half_life_seconds
            )
        usage += held.get(project.project_id, 0.0)
        shares[project.project_id] = (
            project,
            fair_share_factor(usage, project.allocated_gpu_hours),
        )
    return shares


def _type_standings(
    gpu_type: str,
    capacity: GpuTypeCapacity,
    queues: Mapping[int, Sequence[PendingJob]],
    taken: Sequence[Admission],
    context: _Context,
) -> list[ProjectStanding]:
    gone: Counter[int] = Counter(admission.project_id for admission in taken)
    active_jobs = Counter(capacity.running_jobs_by_project) + gone
    active_gpus = Counter(capacity.running_gpus_by_project)
    for admission in taken:
        active_gpus[admission.project_id] += admission.gpus
    waiting: list[tuple[HeadKey, int, QueueFigures]] = []
    for project_id, queue in queues.items():
        start = gone[project_id]
        if len(queue) > start:
            figures = context.figures_of(gpu_type, project_id, queue, start)
            head_key_ = _key(context.keys.get(project_id), project_id, queue[start])
            waiting.append((head_key_, project_id, figures))
    waiting.sort(key=itemgetter(0))
    standings = []
    jobs_ahead = gpus_ahead = minutes_ahead = 0
    for rank, (_, project_id, figures) in enumerate(waiting, start=1):
        jobs, gpus, minutes = figures.work
        standings.append(
            ProjectStanding(
                gpu_type,
                project_id,
                context.tier(project_id),
                rank,
                WorkAhead(jobs_ahead, gpus_ahead, minutes_ahead),
                jobs,
                gpus,
                minutes,
                active_jobs[project_id],
                active_gpus[project_id],
                figures.marks,
            )
        )
        jobs_ahead, gpus_ahead, minutes_ahead = (
            jobs_ahead + jobs,
            gpus_ahead + gpus,
            minutes_ahead + minutes,
        )
    ranked = {project_id for _, project_id, _figures in waiting}
    standings.extend(
        ProjectStanding(
            gpu_type,
            project_id,
            context.tier(project_id),
            None,
            WorkAhead(0, 0, 0),
            0,
            0,
            0,
            active_jobs[project_id],
            active_gpus[project_id],
            (),
        )
        for project_id in sorted(set(active_jobs) - ranked)
    )
    return standings


def _key(known: tuple[Project, float] | None, project_id: int, head: PendingJob) -> HeadKey:
    if known is None:
        return (_NO_PROJECT_TIER, math.inf, head.submit_time, project_id)
    project, fair_share = known
    return head_key(project, fair_share, head)


def _tier(known: tuple[Project, float] | None, tier: int | None) -> int:
    if known is not None:
        return known[0].tier
    return tier if tier is not None else _NO_PROJECT_TIER


def _marks(
    queue: Sequence[PendingJob], gpus: list[int], minutes: list[int], mark_every: int
) -> tuple[QueueMark, ...]:
    """A mark every ``mark_every`` jobs; the running sums are taken only where marks fall."""
    gpus_before = list(islice(accumulate(gpus, initial=0), 0, len(queue), mark_every))
    minutes_before = list(islice(accumulate(minutes, initial=0), 0, len(queue), mark_every))
    return tuple(
        QueueMark(job.submit_time, job.job_id, index, gpus_at, minutes_at)
        for job, index, gpus_at, minutes_at in zip(
            queue[::mark_every],
            range(0, len(queue), mark_every),
            gpus_before,
            minutes_before,
            strict=True,
        )
    )


def _outlook(
    capacity: GpuTypeCapacity, taken: Sequence[Admission], curve_points: int
) -> TypeOutlook:
    pool = capacity.pool
    usable = (pool.node_count - len(pool.excluded)) * pool.gpus_per_node
    free = pool.free_gpus - sum(admission.gpus for admission in taken)
    just_admitted = sorted(
        (admission.expected_end, admission.job_id, admission.placement) for admission in taken
    )
    releases = list(_merged(capacity.releases(), just_admitted))
    used = max(usable - free, 0)
    return TypeOutlook(
        capacity.gpu_type,
        capacity.total_gpus,
        usable,
        used,
        _curve(releases, used, curve_points),
    )


def _merged(first: Sequence[Release], second: Sequence[Release]) -> Iterable[Release]:
    if not second:
        return first
    return heapq.merge(first, second)


def _curve(releases: Sequence[Release], used: int, points: int) -> tuple[tuple[float, int], ...]:
    """``(end, GPUs freed by then)``: exact for up to ``points`` jobs; beyond, ``points``
    evenly spaced jobs with the GPUs freed taken as the mean per job (O(points), not O(jobs))."""
    if len(releases) <= points:
        ends = [end for end, _job, _placement in releases]
        freed = accumulate(sum(share for _node, share in placement) for *_, placement in releases)
        return tuple(zip(ends, freed, strict=True))
    per_job = used / len(releases)
    step = len(releases) / points
    picked = [min(round((i + 1) * step) - 1, len(releases) - 1) for i in range(points)]
    return tuple((releases[i][0], math.ceil((i + 1) * per_job)) for i in picked)
