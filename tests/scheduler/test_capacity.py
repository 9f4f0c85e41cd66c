"""Node buckets, placement, release, shadow time, and the state kept between cycles."""

import math

from booking.scheduler import (
    GpuTypeCapacity,
    NodePool,
    PendingQueues,
    RunningJob,
    admission_cycle,
    shadow_time,
)

from .scenario import NOW, job, project, running, site


def test_single_node_job_goes_to_the_fullest_node_with_room():
    pool = NodePool([8, 3, 5])

    assert pool.place(3) == ((1, 3),)
    assert pool.place(4) == ((2, 4),)
    assert pool.free == [8, 0, 1]
    assert pool.free_gpus == 9


def test_job_that_fits_no_single_node_is_not_placed():
    pool = NodePool([7, 7])

    assert not pool.fits(8)
    assert pool.place(8) is None
    assert pool.free == [7, 7]


def test_released_gpus_return_to_their_node():
    pool = NodePool([8, 8])
    placement = pool.place(16)
    assert placement is not None

    pool.release(placement)

    assert pool.free == [8, 8]
    assert pool.fully_free_nodes() == 2


def test_multi_node_job_waits_when_free_gpus_are_spread_over_partly_busy_nodes():
    busy = [running(f"busy-{node}", 9, on={node: 1}, ends_in_hours=2) for node in range(3)]
    snapshot = site(
        nodes=3,
        projects=[project(1), project(9)],
        running_jobs=busy,
        pending=[job("sixteen-gpus", 1, gpus=16)],
    )

    result = admission_cycle(snapshot)

    assert result.admissions == []
    assert result.waiting == {"sixteen-gpus": "capacity"}


def test_multi_node_job_takes_whole_free_nodes():
    snapshot = site(
        nodes=3,
        projects=[project(1), project(9)],
        running_jobs=[running("busy", 9, on={0: 1}, ends_in_hours=2)],
        pending=[job("sixteen-gpus", 1, gpus=16)],
    )

    [admission] = admission_cycle(snapshot).admissions

    assert sorted(admission.placement) == [(1, 8), (2, 8)]


def test_shadow_time_is_when_enough_gpus_have_freed_up():
    pool = NodePool([0, 4])
    releases = [
        (10.0, "a", ((0, 4),)),
        (20.0, "b", ((0, 4),)),
        (30.0, "c", ((1, 4),)),
    ]

    assert shadow_time(pool, 8, releases, now=0.0) == 20.0
    assert shadow_time(pool, 16, releases, now=0.0) == 30.0
    assert shadow_time(pool, 24, releases, now=0.0) == math.inf


def test_shadow_time_is_never_before_now_for_overdue_jobs():
    pool = NodePool([0])

    assert shadow_time(pool, 8, [(5.0, "overdue", ((0, 8),))], now=100.0) == 100.0


def test_capacity_tracks_running_jobs_in_order_of_their_end():
    capacity = GpuTypeCapacity("H100", [8, 8])
    late = RunningJob("late", 1, "H100", 8, NOW + 200, ((0, 8),))
    early = RunningJob("early", 2, "H100", 4, NOW + 100, ((1, 4),))

    capacity.start_job(late)
    capacity.start_job(early)

    assert [job_id for _end, job_id, _placement in capacity.releases()] == ["early", "late"]
    assert capacity.jobs_due(NOW + 150) == ["early"]
    assert capacity.free_gpus == 4
    assert capacity.running_gpus_by_project == {1: 8, 2: 4}
    assert capacity.end_job("early") == early
    assert capacity.free_gpus == 8
    assert capacity.running_gpus_by_project == {1: 8}


def test_pending_queues_keep_submit_order_per_project_and_gpu_type():
    second = job("second", 1, submitted_minutes_ago=10)
    first = job("first", 1, submitted_minutes_ago=20)
    queues = PendingQueues([second])

    queues.add(first)

    assert [queued.job_id for queued in queues.by_project("H100")[1]] == ["first", "second"]
    assert queues.remove("first") == first
    assert queues.remove("first") is None
    assert len(queues) == 1


def test_a_cycle_leaves_its_snapshot_unchanged():
    snapshot = site(nodes=2, projects=[project(1)], pending=[job("a", 1), job("b", 1, gpus=8)])
    free_before = list(snapshot.capacity["H100"].pool.free)

    first = admission_cycle(snapshot)
    second = admission_cycle(snapshot)

    assert snapshot.capacity["H100"].pool.free == free_before
    assert len(snapshot.pending) == 2
    assert first.admissions == second.admissions
