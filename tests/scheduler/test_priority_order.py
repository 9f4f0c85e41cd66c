"""Who goes first: tier, then fair share within a tier, then submit time; one head per project."""

import pytest

from booking.scheduler import WaitReason, admission_cycle, decayed

from .scenario import HOUR, NOW, admitted_ids, job, project, running, site

DAY = 24 * HOUR
WEEK = 7 * DAY


def test_better_tier_is_admitted_first_when_only_one_job_fits():
    snapshot = site(
        nodes=1,
        projects=[project(1, tier=4), project(2, tier=1)],
        pending=[
            job("international", 1, gpus=8, submitted_minutes_ago=600),
            job("academic", 2, gpus=8, submitted_minutes_ago=5),
        ],
    )

    result = admission_cycle(snapshot)

    assert [admission.job_id for admission in result.admissions] == ["academic"]
    assert result.waiting == {"international": WaitReason.CAPACITY}


def test_lower_fair_share_goes_first_within_a_tier():
    snapshot = site(
        nodes=1,
        projects=[
            project(1, tier=2, usage_gpu_hours=5000, allocated_gpu_hours=10_000),
            project(2, tier=2, usage_gpu_hours=1000, allocated_gpu_hours=10_000),
        ],
        pending=[
            job("heavy-user", 1, gpus=8, submitted_minutes_ago=600),
            job("light-user", 2, gpus=8, submitted_minutes_ago=5),
        ],
    )

    assert admitted_ids(snapshot) == ["light-user"]


def test_earlier_submit_goes_first_when_tier_and_fair_share_are_equal():
    snapshot = site(
        nodes=1,
        projects=[project(1), project(2)],
        pending=[
            job("later", 1, gpus=8, submitted_minutes_ago=5),
            job("earlier", 2, gpus=8, submitted_minutes_ago=50),
        ],
    )

    assert admitted_ids(snapshot) == ["earlier"]


def test_project_without_allocation_goes_last_within_its_tier():
    snapshot = site(
        nodes=1,
        projects=[project(1, allocated_gpu_hours=0), project(2, usage_gpu_hours=9000)],
        pending=[
            job("no-allocation", 1, gpus=8, submitted_minutes_ago=600),
            job("heavy-user", 2, gpus=8, submitted_minutes_ago=5),
        ],
    )

    assert admitted_ids(snapshot) == ["heavy-user"]


def test_usage_halves_every_half_life():
    assert decayed(100.0, as_of=0.0, now=WEEK, half_life_seconds=WEEK) == pytest.approx(50.0)
    assert decayed(100.0, as_of=0.0, now=2 * WEEK, half_life_seconds=WEEK) == pytest.approx(25.0)
    assert decayed(100.0, as_of=WEEK, now=0.0, half_life_seconds=WEEK) == 100.0


def test_heavy_usage_long_ago_has_decayed_below_recent_moderate_usage():
    # 8000 GPU-hours three half-lives ago count as 1000 now, less than 2000 used today.
    projects = [
        project(1, usage_gpu_hours=8000, usage_as_of=NOW - 3 * WEEK),
        project(2, usage_gpu_hours=2000, usage_as_of=NOW),
    ]
    pending = [
        job("heavy-long-ago", 1, gpus=8, submitted_minutes_ago=5),
        job("moderate-today", 2, gpus=8, submitted_minutes_ago=50),
    ]

    decaying = site(nodes=1, projects=projects, pending=pending)
    barely_decaying = site(
        nodes=1, projects=projects, pending=pending, fair_share_half_life_seconds=1e12
    )

    assert admitted_ids(decaying) == ["heavy-long-ago"]
    assert admitted_ids(barely_decaying) == ["moderate-today"]


def test_entry_penalty_lets_another_project_go_before_a_second_job():
    # Project 1 starts at fair share 0; its first 8 GPU-hours raise it to 0.08, above 0.05.
    snapshot = site(
        nodes=2,
        projects=[
            project(1, allocated_gpu_hours=100),
            project(2, usage_gpu_hours=5, allocated_gpu_hours=100),
        ],
        pending=[
            job("a-first", 1, gpus=8, submitted_minutes_ago=30),
            job("a-second", 1, gpus=8, submitted_minutes_ago=20),
            job("b-first", 2, gpus=8, submitted_minutes_ago=10),
        ],
    )

    result = admission_cycle(snapshot)

    assert [admission.job_id for admission in result.admissions] == ["a-first", "b-first"]
    assert result.waiting == {"a-second": WaitReason.CAPACITY}


def test_one_project_gets_many_admissions_in_one_cycle():
    pending = [job(f"job-{i}", 1, submitted_minutes_ago=100 - i) for i in range(12)]
    snapshot = site(nodes=2, projects=[project(1)], pending=pending)

    assert admitted_ids(snapshot) == [f"job-{i}" for i in range(12)]


def project_with_a_blocked_head(*, strict_order: bool):
    return site(
        nodes=2,
        projects=[project(1, tier=1), project(2, tier=2), project(9, tier=3)],
        running_jobs=[running("busy", 9, on={0: 8}, ends_in_hours=2)],
        pending=[
            job("a-big", 1, gpus=16, submitted_minutes_ago=30),
            job("a-small", 1, gpus=1, submitted_minutes_ago=20, strict_order=strict_order),
            job("b-small", 2, gpus=1, submitted_minutes_ago=10),
        ],
    )


def test_a_project_later_job_backfills_past_its_blocked_first_job():
    result = admission_cycle(project_with_a_blocked_head(strict_order=False))

    assert [admission.job_id for admission in result.admissions] == ["a-small", "b-small"]
    assert result.waiting == {"a-big": WaitReason.CAPACITY}


def test_a_strict_order_job_waits_behind_its_project_earlier_job():
    result = admission_cycle(project_with_a_blocked_head(strict_order=True))

    assert [admission.job_id for admission in result.admissions] == ["b-small"]
    assert result.waiting == {"a-big": WaitReason.CAPACITY, "a-small": WaitReason.PRIORITY}
