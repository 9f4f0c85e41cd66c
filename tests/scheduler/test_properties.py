"""Properties over random small sites: admissions never overrun capacity, budget or limits."""

import math
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from booking.scheduler import (
    PendingJob,
    PolicyConfig,
    Project,
    RunningJob,
    Snapshot,
    admission_cycle,
)

from .scenario import HOUR, NOW

GPU_TYPES = ("H100", "H200")


@st.composite
def projects(draw, project_id: int, *, gated: bool) -> Project:
    """A project; ``gated=False`` gives ample budget and no limits, leaving capacity alone."""
    return Project(
        project_id=project_id,
        tier=draw(st.integers(1, 4)),
        available_gpu_hours={
            t: draw(st.sampled_from([0.0, 6.0, 20.0, 1e4, 1e4])) if gated else 1e6
            for t in GPU_TYPES
        },
        decayed_usage_gpu_hours=draw(st.floats(0, 1000)),
        allocated_gpu_hours=draw(st.sampled_from([0.0, 100.0, 1000.0])),
        max_running_gpus=draw(st.sampled_from([None, None, None, 4, 12, 32])) if gated else None,
        suspended=gated and draw(st.integers(0, 9)) == 0,
        running_gpus=draw(st.sampled_from([0, 0, 4, 16])),
    )


@st.composite
def running_jobs(draw, gpu_type: str, free: list[int], project_count: int) -> list[RunningJob]:
    """Jobs holding each node's busy GPUs, one or two per node, ending at different times."""
    jobs = []
    for node, node_free in enumerate(free):
        busy = 8 - node_free
        first = draw(st.integers(1, busy)) if busy else 0
        for part, gpus in enumerate((first, busy - first)):
            if gpus:
                end = NOW + draw(st.sampled_from([0.5, 1, 2, 4, 8])) * HOUR
                pid = draw(st.integers(1, project_count))
                job_id = f"{gpu_type}-r{node}-{part}"
                jobs.append(RunningJob(job_id, pid, gpu_type, gpus, end, ((node, gpus),)))
    return jobs


@st.composite
def snapshots(draw, *, gated: bool = True) -> Snapshot:
    project_count = draw(st.integers(1, 4))
    free = {t: draw(st.lists(st.integers(0, 8), min_size=1, max_size=3)) for t in GPU_TYPES}
    running = [job for t in GPU_TYPES for job in draw(running_jobs(t, free[t], project_count))]
    jobs = draw(
        st.lists(pending_jobs(project_count), min_size=3, max_size=30, unique_by=lambda j: j.job_id)
    )
    by_project: dict[int, list[PendingJob]] = defaultdict(list)
    for pending in jobs:
        by_project[pending.project_id].append(pending)
    config = PolicyConfig(
        now=NOW,
        tier_caps={4: draw(st.sampled_from([0.0, 0.2, 1.0]))} if gated else {},
        backfill_max_job_test=draw(st.sampled_from([0, 2, 100])),
    )
    return Snapshot.build(
        config=config,
        projects=[draw(projects(pid, gated=gated)) for pid in range(1, project_count + 1)],
        pending_by_project=by_project,
        running=running,
        free_gpus_per_node=free,
    )


def pending_jobs(project_count: int):
    return st.builds(
        PendingJob,
        job_id=st.text("abcdef", min_size=1, max_size=6),
        project_id=st.integers(1, project_count),
        gpu_type=st.sampled_from(GPU_TYPES),
        gpus=st.sampled_from([1, 2, 3, 4, 6, 8, 16, 24]),
        walltime_minutes=st.sampled_from([15, 30, 60, 120, 240, 600]),
        submit_time=st.floats(NOW - 10 * HOUR, NOW),
    )


@settings(max_examples=300, deadline=None)
@given(snapshots())
def test_admissions_never_exceed_free_capacity_budget_or_project_limit(snapshot):
    free_before = {t: list(cap.pool.free) for t, cap in snapshot.capacity.items()}

    result = admission_cycle(snapshot)

    used_on_node: dict[tuple[str, int], int] = defaultdict(int)
    held: dict[tuple[int, str], float] = defaultdict(float)
    started_gpus: dict[int, int] = defaultdict(int)
    for admission in result.admissions:
        assert admission.job_id in snapshot.pending
        assert sum(gpus for _node, gpus in admission.placement) == admission.gpus
        for node, gpus in admission.placement:
            used_on_node[(admission.gpu_type, node)] += gpus
        held[(admission.project_id, admission.gpu_type)] += admission.hold_gpu_hours
        started_gpus[admission.project_id] += admission.gpus
    assert len({a.job_id for a in result.admissions}) == len(result.admissions)
    for (gpu_type, node), gpus in used_on_node.items():
        assert gpus <= free_before[gpu_type][node]
    for (project_id, gpu_type), hours in held.items():
        assert hours <= snapshot.projects[project_id].available_gpu_hours[gpu_type] + 1e-9
    for project_id, gpus in started_gpus.items():
        project = snapshot.projects[project_id]
        assert not project.suspended
        if project.max_running_gpus is not None:
            assert project.running_gpus + gpus <= project.max_running_gpus
    assert {t: cap.pool.free for t, cap in snapshot.capacity.items()} == free_before


@settings(max_examples=300, deadline=None)
@given(snapshots(gated=False))
def test_no_admission_delays_the_reserved_job_past_its_shadow_time(snapshot):
    result = admission_cycle(snapshot)

    for gpu_type, (job_id, shadow) in result.reservations.items():
        if shadow == math.inf:
            continue
        capacity = snapshot.capacity[gpu_type]
        pool = capacity.pool.copy()
        admitted = [a for a in result.admissions if a.gpu_type == gpu_type]
        for admission in admitted:
            pool.take(admission.placement)
        for end, _job_id, placement in capacity.releases():
            if end <= shadow:
                pool.release(placement)
        for admission in admitted:
            if admission.expected_end <= shadow:
                pool.release(admission.placement)
        reserved = snapshot.pending.get(job_id)
        assert reserved is not None
        assert pool.fits(reserved.gpus)
