"""EASY backfill: the first job blocked by capacity gets a reservation that nothing delays."""

import dataclasses

from booking.scheduler import Reservation, WaitReason, admission_cycle

from .scenario import H100, HOUR, NOW, job, project, running, site

BIG, SMALL, OTHER = 1, 2, 9


def blocked_big_job_site(*small_jobs, **config):
    """Two nodes, one busy for 2 hours: a 16-GPU job must wait for both to be free."""
    return site(
        nodes=2,
        projects=[project(BIG, tier=1), project(SMALL, tier=2), project(OTHER, tier=3)],
        running_jobs=[running("busy", OTHER, on={0: 8}, ends_in_hours=2)],
        pending=[job("big", BIG, gpus=16, submitted_minutes_ago=90), *small_jobs],
        **config,
    )


def test_blocked_job_gets_a_reservation_at_its_shadow_time():
    result = admission_cycle(blocked_big_job_site())

    assert result.reservations == {H100: Reservation("big", NOW + 2 * HOUR)}
    assert result.waiting == {"big": WaitReason.CAPACITY}


def test_backfill_job_that_ends_before_the_shadow_time_is_admitted():
    snapshot = blocked_big_job_site(job("short", SMALL, gpus=4, hours=1))

    result = admission_cycle(snapshot)

    assert [admission.job_id for admission in result.admissions] == ["short"]


def test_backfill_job_that_would_delay_the_reservation_waits_with_reason_priority():
    snapshot = blocked_big_job_site(job("long", SMALL, gpus=4, hours=3))

    result = admission_cycle(snapshot)

    assert result.admissions == []
    assert result.waiting["long"] == WaitReason.PRIORITY


def test_blocked_big_job_is_not_starved_by_later_small_long_jobs():
    # Half of node 0 is busy for an hour: 12 GPUs are free, but not two whole nodes.
    small_long = [
        job(f"small-{pid}", pid, gpus=2, hours=24, submitted_minutes_ago=10) for pid in range(2, 7)
    ]
    snapshot = site(
        nodes=2,
        projects=[project(pid, tier=2) for pid in range(1, 7)],
        running_jobs=[running("busy", 1, on={0: 4}, ends_in_hours=1)],
        pending=[job("big", 1, gpus=16, hours=4, submitted_minutes_ago=120), *small_long],
    )

    first = admission_cycle(snapshot)
    snapshot.capacity[H100].end_job("busy")
    snapshot.config = dataclasses.replace(snapshot.config, now=NOW + HOUR)
    an_hour_later = admission_cycle(snapshot)

    assert first.admissions == []
    assert first.reservations[H100] == Reservation("big", NOW + HOUR)
    assert {first.waiting[small.job_id] for small in small_long} == {WaitReason.PRIORITY}
    assert [admission.job_id for admission in an_hour_later.admissions] == ["big"]


def test_backfill_examines_at_most_max_job_test_jobs_after_the_reservation():
    long_jobs = [job(f"long-{pid}", pid, hours=3) for pid in (SMALL, 10, 11, 12, 13)]
    snapshot = site(
        nodes=2,
        projects=[project(pid, tier=2) for pid in (BIG, SMALL, OTHER, 10, 11, 12, 13)],
        running_jobs=[running("busy", OTHER, on={0: 8}, ends_in_hours=2)],
        pending=[job("big", BIG, gpus=16, submitted_minutes_ago=90), *long_jobs],
        backfill_max_job_test=2,
    )

    result = admission_cycle(snapshot)

    assert result.stats.jobs_examined == 3
    assert {result.waiting[long_job.job_id] for long_job in long_jobs} == {WaitReason.PRIORITY}


def test_full_gpu_type_is_left_without_examining_its_queue():
    snapshot = site(
        nodes=1,
        projects=[project(pid) for pid in range(1, 6)],
        running_jobs=[running("busy", 1, on={0: 8}, ends_in_hours=2)],
        pending=[job(f"waiting-{pid}", pid) for pid in range(1, 6)],
    )

    result = admission_cycle(snapshot)

    assert result.stats.jobs_examined == 0
    assert result.reservations == {}
    assert set(result.waiting.values()) == {WaitReason.CAPACITY}
    assert len(result.waiting) == 5
