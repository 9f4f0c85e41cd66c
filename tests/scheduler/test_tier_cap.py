"""International (tier 4) jobs hold at most 20 % of a GPU type while European jobs wait for it."""

from booking.scheduler import WaitReason, admission_cycle

from .scenario import admitted_ids, job, project, running, site

EUROPEAN, INTERNATIONAL = 1, 2


def international_jobs() -> list:
    return [job(f"intl-{i}", INTERNATIONAL, gpus=8, submitted_minutes_ago=30 - i) for i in range(3)]


def test_international_job_waits_for_the_tier_cap_while_a_european_job_is_pending():
    # 80 GPUs, cap 16: 8 already run, so one more 8-GPU international job fits under it.
    snapshot = site(
        nodes=10,
        projects=[project(EUROPEAN, tier=1), project(INTERNATIONAL, tier=4, running_gpus=8)],
        running_jobs=[running("intl-running", INTERNATIONAL, on={0: 8}, ends_in_hours=10)],
        pending=[job("european-big", EUROPEAN, gpus=80), *international_jobs()],
    )

    result = admission_cycle(snapshot)

    assert [admission.job_id for admission in result.admissions] == ["intl-0"]
    assert result.waiting == {
        "european-big": WaitReason.CAPACITY,
        "intl-1": WaitReason.TIER_CAP,
    }


def test_international_jobs_are_not_capped_when_no_european_job_is_pending():
    snapshot = site(
        nodes=10,
        projects=[project(INTERNATIONAL, tier=4, running_gpus=8)],
        running_jobs=[running("intl-running", INTERNATIONAL, on={0: 8}, ends_in_hours=10)],
        pending=international_jobs(),
    )

    assert admitted_ids(snapshot) == ["intl-0", "intl-1", "intl-2"]


def test_international_jobs_are_not_capped_once_european_jobs_are_admitted():
    snapshot = site(
        nodes=10,
        projects=[project(EUROPEAN, tier=1), project(INTERNATIONAL, tier=4)],
        pending=[job("european", EUROPEAN, gpus=8), *international_jobs()],
    )

    assert admitted_ids(snapshot) == ["european", "intl-0", "intl-1", "intl-2"]


def test_tier_cap_can_be_switched_off_in_the_config():
    snapshot = site(
        nodes=10,
        projects=[project(EUROPEAN, tier=1), project(INTERNATIONAL, tier=4, running_gpus=8)],
        running_jobs=[running("intl-running", INTERNATIONAL, on={0: 8}, ends_in_hours=10)],
        pending=[job("european-big", EUROPEAN, gpus=80), *international_jobs()],
        tier_caps={},
    )

    assert admitted_ids(snapshot) == ["intl-0", "intl-1", "intl-2"]


def test_running_gpus_of_a_capped_tier_project_with_nothing_pending_count_against_the_cap():
    # 80 GPUs, cap 16: another international project with an empty queue already runs 16, so
    # the pending international job would exceed the cap while a European job waits.
    idle_international = 3
    snapshot = site(
        nodes=10,
        projects=[project(EUROPEAN, tier=1), project(INTERNATIONAL, tier=4)],
        running_jobs=[
            running("idle-intl-running", idle_international, on={0: 8, 1: 8}, ends_in_hours=10)
        ],
        pending=[job("european-big", EUROPEAN, gpus=80), *international_jobs()],
        tiers={idle_international: 4},
    )

    result = admission_cycle(snapshot)

    assert result.admissions == []
    assert result.waiting["intl-0"] == WaitReason.TIER_CAP


def test_a_project_of_unknown_tier_does_not_count_against_any_cap():
    snapshot = site(
        nodes=10,
        projects=[project(EUROPEAN, tier=1), project(INTERNATIONAL, tier=4)],
        running_jobs=[running("unknown-running", 3, on={0: 8, 1: 8}, ends_in_hours=10)],
        pending=[job("european-big", EUROPEAN, gpus=80), *international_jobs()],
    )

    assert admitted_ids(snapshot) == ["intl-0", "intl-1"]
