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
