"""Policy-only benchmark: admission cycles on a synthetic full-size site.

Run ``python -m booking.scheduler.benchmark [--cycles 20] [--scale 1.0] [--seed 7]``.
Only ``admission_cycle`` is timed; building and updating the snapshot is not.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import statistics
import time
import tracemalloc
from collections.abc import Mapping, Sequence
from itertools import accumulate

from booking.scheduler.capacity import GpuTypeCapacity
from booking.scheduler.fair_share import decayed
from booking.scheduler.jobs import PendingJob, RunningJob
from booking.scheduler.outcome import CycleResult
from booking.scheduler.policy import admission_cycle
from booking.scheduler.queues import PendingQueues
from booking.scheduler.snapshot import PolicyConfig, Project, Snapshot

GPUS_PER_NODE = 8
NODES_BY_TYPE = {"H100": 6000, "H200": 4500, "GB200": 2000}
PENDING_SHARE_BY_TYPE = {"H100": 0.50, "H200": 0.35, "GB200": 0.15}
PROJECTS = 2000
PENDING_JOBS = 100_000
RUNNING_JOBS = 60_000
# Pending work is mostly single-node with some multi-node jobs; what runs is skewed to small
# jobs, since 60k running jobs must fit in 100k GPUs.
PENDING_SIZES = {1: 30, 2: 20, 4: 20, 8: 18, 16: 7, 32: 3, 64: 2}
RUNNING_SIZES = {1: 82, 2: 10, 4: 4, 8: 3, 16: 0.7, 32: 0.3}
WALLTIME_HOURS = {1: 15, 2: 15, 4: 20, 8: 20, 12: 10, 24: 12, 48: 8}
TIERS = {1: 35, 2: 15, 3: 20, 4: 30}
CYCLE_INTERVAL_SECONDS = 300.0
START_TIME = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAY_SECONDS = 86_400.0


def _weighted(rng: random.Random, table: Mapping[int, float]) -> int:
    return rng.choices(list(table), weights=list(table.values()))[0]


@dataclasses.dataclass
class Site:
    """The synthetic site: a long-lived snapshot plus what is needed to keep it moving."""

    snapshot: Snapshot
    rng: random.Random
    project_ids: list[int]
    project_cum_weights: list[float]
    jobs_made: int = 0

    def pick_project(self) -> int:
        return self.rng.choices(self.project_ids, cum_weights=self.project_cum_weights)[0]

    def new_job_id(self) -> str:
        self.jobs_made += 1
        return f"job-{self.jobs_made}"


def _make_project(rng: random.Random, project_id: int, now: float) -> Project:
    allocated = math.exp(rng.uniform(math.log(1e3), math.log(1e6)))
    starved = rng.random() < 0.10
    available = {
        gpu_type: rng.uniform(0, 40) if starved else allocated * rng.uniform(0.3, 1.0)
        for gpu_type in NODES_BY_TYPE
    }
    limited = rng.random() < 0.15
    return Project(
        project_id=project_id,
        tier=_weighted(rng, TIERS),
        available_gpu_hours=available,
        decayed_usage_gpu_hours=allocated * rng.uniform(0, 0.8),
        allocated_gpu_hours=allocated,
        max_running_gpus=rng.choice((32, 128, 512)) if limited else None,
        suspended=rng.random() < 0.01,
        usage_as_of=now - rng.uniform(0, DAY_SECONDS),
    )


def _pending_job(site: Site, submit_time: float) -> PendingJob:
    rng = site.rng
    types = list(PENDING_SHARE_BY_TYPE)
    return PendingJob(
        job_id=site.new_job_id(),
        project_id=site.pick_project(),
        gpu_type=rng.choices(types, weights=[PENDING_SHARE_BY_TYPE[t] for t in types])[0],
        gpus=_weighted(rng, PENDING_SIZES),
        walltime_minutes=60 * _weighted(rng, WALLTIME_HOURS),
        submit_time=submit_time,
    )


def _fill_running(site: Site, capacity: GpuTypeCapacity, count: int, now: float) -> None:
    """Start ``count`` jobs (biggest first, so multi-node ones find whole nodes)."""
    rng = site.rng
    sizes = sorted((_weighted(rng, RUNNING_SIZES) for _ in range(count)), reverse=True)
    for size in sizes:
        placement = capacity.pool.place(size) or capacity.pool.place(1)
        if placement is None:
            return
        walltime = 3600.0 * _weighted(rng, WALLTIME_HOURS)
        job = RunningJob(
            job_id=site.new_job_id(),
            project_id=site.pick_project(),
            gpu_type=capacity.gpu_type,
            gpus=sum(gpus for _node, gpus in placement),
            expected_end=now + walltime * rng.uniform(0.02, 1.0),
            placement=placement,
        )
        capacity.track_job(job)


def build_site(*, scale: float, seed: int) -> Site:
    """A busy site: nodes almost full of running jobs and a long queue of pending jobs."""
    rng = random.Random(seed)
    now = START_TIME
    project_count = max(4, round(PROJECTS * scale))
    projects = {pid: _make_project(rng, pid, now) for pid in range(1, project_count + 1)}
    ids = list(projects)
    rng.shuffle(ids)
    weights = list(accumulate(1.0 / (rank + 1) ** 0.9 for rank in range(len(ids))))
    config = PolicyConfig(now=now)
    snapshot = Snapshot(config=config, projects=projects, pending=PendingQueues(), capacity={})
    site = Site(snapshot=snapshot, rng=rng, project_ids=ids, project_cum_weights=weights)
    total_nodes = sum(NODES_BY_TYPE.values())
    for gpu_type, nodes in NODES_BY_TYPE.items():
        node_count = max(1, round(nodes * scale))
        capacity = GpuTypeCapacity(gpu_type, [GPUS_PER_NODE] * node_count)
        snapshot.capacity[gpu_type] = capacity
        _fill_running(site, capacity, round(RUNNING_JOBS * scale * nodes / total_nodes), now)
    _count_running_gpus(snapshot)
    for _ in range(max(1, round(PENDING_JOBS * scale))):
        snapshot.pending.add(_pending_job(site, now - rng.uniform(0, 3 * DAY_SECONDS)))
    return site


def _count_running_gpus(snapshot: Snapshot) -> None:
    running: dict[int, int] = {}
    for capacity in snapshot.capacity.values():
        for project_id, gpus in capacity.running_gpus_by_project.items():
            running[project_id] = running.get(project_id, 0) + gpus
    for project_id, project in snapshot.projects.items():
        gpus = running.get(project_id, 0)
        snapshot.projects[project_id] = dataclasses.replace(project, running_gpus=gpus)


def _apply_admissions(snapshot: Snapshot, result: CycleResult) -> None:
    """What the Django adapter does after a cycle: start the jobs, hold budget, charge usage."""
    config = snapshot.config
    for admission in result.admissions:
        snapshot.pending.remove(admission.job_id)
        snapshot.capacity[admission.gpu_type].start_job(admission.running_job())
        project = snapshot.projects[admission.project_id]
        available = dict(project.available_gpu_hours)
        available[admission.gpu_type] -= admission.hold_gpu_hours
        as_of = project.usage_as_of if project.usage_as_of is not None else config.now
        usage = decayed(
            project.decayed_usage_gpu_hours, as_of, config.now, config.fair_share_half_life_seconds
        )
        snapshot.projects[admission.project_id] = dataclasses.replace(
            project,
            available_gpu_hours=available,
            decayed_usage_gpu_hours=usage + admission.hold_gpu_hours,
            usage_as_of=config.now,
            running_gpus=project.running_gpus + admission.gpus,
        )


def _end_due_jobs(snapshot: Snapshot, now: float) -> int:
    ended = 0
    for capacity in snapshot.capacity.values():
        for job_id in capacity.jobs_due(now):
            job = capacity.end_job(job_id)
            if job is None:
                continue
            ended += 1
            project = snapshot.projects[job.project_id]
            running = max(project.running_gpus - job.gpus, 0)
            snapshot.projects[job.project_id] = dataclasses.replace(project, running_gpus=running)
    return ended


def advance(site: Site, result: CycleResult, seconds: float) -> None:
    """Apply a cycle's admissions, move the clock, end due jobs and submit as many new ones."""
    snapshot = site.snapshot
    _apply_admissions(snapshot, result)
    now = snapshot.config.now + seconds
    _end_due_jobs(snapshot, now)
    for _ in range(len(result.admissions)):
        snapshot.pending.add(_pending_job(site, now - site.rng.uniform(0, seconds)))
    snapshot.config = dataclasses.replace(snapshot.config, now=now)


def _nearest_rank(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def _peak_memory_mib(snapshot: Snapshot) -> float:
    tracemalloc.start()
    try:
        admission_cycle(snapshot)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / (1024 * 1024)


def _site_line(snapshot: Snapshot) -> str:
    nodes = sum(cap.pool.node_count for cap in snapshot.capacity.values())
    gpus = sum(cap.total_gpus for cap in snapshot.capacity.values())
    busy = gpus - sum(cap.free_gpus for cap in snapshot.capacity.values())
    running = sum(len(cap.releases()) for cap in snapshot.capacity.values())
    return (
        f"site: {nodes:,} nodes, {gpus:,} GPUs ({busy / gpus:.1%} busy), "
        f"{len(snapshot.projects):,} projects, {len(snapshot.pending):,} pending jobs, "
        f"{running:,} running jobs"
    )


def run(*, cycles: int, scale: float, seed: int) -> list[str]:
    """Run the benchmark and return the report, one figure per line."""
    started = time.perf_counter()
    site = build_site(scale=scale, seed=seed)
    lines = [_site_line(site.snapshot), f"snapshot build: {time.perf_counter() - started:.1f} s"]
    durations: list[float] = []
    admitted: list[int] = []
    examined: list[int] = []
    for _ in range(cycles):
        result = admission_cycle(site.snapshot)
        durations.append(result.stats.duration_seconds * 1000)
        admitted.append(len(result.admissions))
        examined.append(result.stats.jobs_examined)
        advance(site, result, CYCLE_INTERVAL_SECONDS)
    lines += [
        f"cycles: {cycles} (clock advances {CYCLE_INTERVAL_SECONDS:.0f} s between cycles)",
        f"policy cycle p50: {_nearest_rank(durations, 0.50):.1f} ms",
        f"policy cycle p99: {_nearest_rank(durations, 0.99):.1f} ms",
        f"policy cycle max: {max(durations):.1f} ms",
        f"admissions per cycle (mean): {statistics.fmean(admitted):.0f}",
        f"jobs examined per cycle (mean): {statistics.fmean(examined):.0f}",
        f"peak memory (tracemalloc) of a cycle: {_peak_memory_mib(site.snapshot):.1f} MiB",
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; prints the report and returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cycles", type=int, default=20, help="admission cycles to time")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full site")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the synthetic site")
    args = parser.parse_args(argv)
    if args.cycles < 1 or not 0 < args.scale <= 1:
        parser.error("--cycles must be at least 1 and --scale in (0, 1]")
    for line in run(cycles=args.cycles, scale=args.scale, seed=args.seed):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
