"""A blocked job does not block its own project: the project's later jobs are EASY backfill
candidates (fit now, end before the reserved start), unless they ask for strict order."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from booking.scheduler import PendingJob, Reservation, WaitReason, admission_cycle, shadow_time

from .scenario import H100, HOUR, NOW, job, project, running, site

MINE, OTHER = 1, 9


def test_a_later_small_job_starts_and_the_reserved_big_job_keeps_its_start():
    # One of two nodes is busy for 2 hours: the project's 16-GPU job must wait for both.
    snapshot = site(
        nodes=2,
        projects=[project(MINE), project(OTHER, tier=3)],
        running_jobs=[running("busy", OTHER, on={0: 8}, ends_in_hours=2)],
        pending=[
            job("big", MINE, gpus=16, submitted_minutes_ago=90),
            job("short", MINE, gpus=4, hours=1, submitted_minutes_ago=60),
            job("too-long", MINE, gpus=4, hours=3, submitted_minutes_ago=30),
        ],
    )

    result = admission_cycle(snapshot)

    assert [admission.job_id for admission in result.admissions] == ["short"]
    assert result.reservations == {H100: Reservation("big", NOW + 2 * HOUR)}
    assert result.waiting == {"big": WaitReason.CAPACITY, "too-long": WaitReason.PRIORITY}


def test_backfill_within_a_project_stays_within_the_backfill_bound():
    pending = [job("big", MINE, gpus=16, submitted_minutes_ago=999)]
    pending += [
        job(f"long-{i}", MINE, gpus=1, hours=5, submitted_minutes_ago=500 - i) for i in range(50)
    ]
    snapshot = site(
        nodes=2,
        projects=[project(MINE), project(OTHER, tier=3)],
        running_jobs=[running("busy", OTHER, on={0: 8}, ends_in_hours=2)],
        pending=pending,
        backfill_max_job_test=10,
    )

    result = admission_cycle(snapshot)

    assert result.admissions == []
    # The reserving job and ten backfill tests; the 11th candidate waits unexamined.
    assert result.stats.jobs_examined == 11
    assert len(result.waiting) == 12


@st.composite
def project_queues(draw):
    """One project with a big head that cannot start now, and later jobs of any size, length
    and order flag; another project's jobs occupy the nodes for a while."""
    nodes = draw(st.integers(2, 4))
    busy = []
    for node in range(nodes):
        gpus = draw(st.integers(0, 7 if node == 0 else 8))  # some GPU is free
        if gpus:
            hours = draw(st.sampled_from([0.5, 1, 2, 4, 8]))
            busy.append(running(f"r{node}", OTHER, on={node: gpus}, ends_in_hours=hours))
    if not busy:
        busy.append(running("r0", OTHER, on={0: 4}, ends_in_hours=2))
    later = draw(
        st.lists(
            st.tuples(
                st.sampled_from([1, 2, 4, 8]),
                st.sampled_from([0.25, 0.5, 1, 3, 6]),
                st.booleans(),
            ),
            max_size=12,
        )
    )
    pending = [job("head", MINE, gpus=8 * nodes, submitted_minutes_ago=999)]
    pending += [
        job(f"later-{i}", MINE, gpus=g, hours=h, strict_order=s, submitted_minutes_ago=500 - i)
        for i, (g, h, s) in enumerate(later)
    ]
    max_tests = draw(st.sampled_from([0, 1, 3, 100]))
    return site(
        nodes=nodes,
        projects=[project(MINE), project(OTHER, tier=3)],
        running_jobs=busy,
        pending=pending,
        backfill_max_job_test=max_tests,
    )


@settings(max_examples=300, deadline=None)
@given(project_queues())
def test_no_job_backfilled_within_its_project_delays_the_reserved_one(snapshot):
    result = admission_cycle(snapshot)

    reserved, shadow = result.reservations[H100]
    assert reserved == "head"
    capacity = snapshot.capacity[H100]
    pool = capacity.pool.copy()
    for admission in result.admissions:
        assert admission.expected_end <= shadow
        pool.take(admission.placement)
    releases = sorted(
        [
            *capacity.releases(),
            *((a.expected_end, a.job_id, a.placement) for a in result.admissions),
        ]
    )
    # The reserved job could still start at the very time it was promised.
    assert shadow_time(pool, 8 * pool.node_count, releases, NOW) <= shadow
    assert shadow < math.inf


@settings(max_examples=200, deadline=None)
@given(project_queues())
def test_a_strict_order_job_never_starts_before_its_project_earlier_jobs(snapshot):
    result = admission_cycle(snapshot)

    admitted = {admission.job_id for admission in result.admissions}
    queue: list[PendingJob] = list(snapshot.pending.by_project(H100)[MINE])
    for index, later in enumerate(queue):
        if later.strict_order and later.job_id in admitted:
            assert all(earlier.job_id in admitted for earlier in queue[:index])
