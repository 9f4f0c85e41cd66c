"""Gates besides capacity: budget, the project's GPU limit, suspension and booking windows."""

from booking.scheduler import Booking, WaitReason, admission_cycle

from .scenario import H100, HOUR, NOW, admitted_ids, job, project, site


def test_job_over_budget_waits_with_reason_budget():
    snapshot = site(
        nodes=1,
        projects=[project(1, budget_gpu_hours=10)],
        pending=[job("twelve-gpu-hours", 1, gpus=4, hours=3)],
    )

    result = admission_cycle(snapshot)

    assert result.admissions == []
    assert result.waiting == {"twelve-gpu-hours": WaitReason.BUDGET}


def test_budget_held_by_an_admission_is_spent_within_the_same_cycle():
    snapshot = site(
        nodes=2,
        projects=[project(1, budget_gpu_hours=20)],
        pending=[job(f"eight-gpu-hours-{i}", 1, gpus=4, hours=2) for i in range(3)],
    )

    result = admission_cycle(snapshot)

    assert [admission.hold_gpu_hours for admission in result.admissions] == [8.0, 8.0]
    assert result.waiting == {"eight-gpu-hours-2": WaitReason.BUDGET}


def test_project_at_its_running_gpu_limit_waits_with_reason_project_limit():
    snapshot = site(
        nodes=2,
        projects=[project(1, max_running_gpus=8, running_gpus=4)],
        pending=[job("fits-limit", 1, gpus=4), job("over-limit", 1, gpus=4)],
    )

    result = admission_cycle(snapshot)

    assert [admission.job_id for admission in result.admissions] == ["fits-limit"]
    assert result.waiting == {"over-limit": WaitReason.PROJECT_LIMIT}


def test_suspended_project_is_skipped_with_reason_project_suspended():
    snapshot = site(
        nodes=1,
        projects=[project(1, tier=1, suspended=True), project(2, tier=4)],
        pending=[job("suspended", 1, gpus=8), job("international", 2, gpus=8)],
    )

    result = admission_cycle(snapshot)

    assert [admission.job_id for admission in result.admissions] == ["international"]
    assert result.waiting == {"suspended": WaitReason.PROJECT_SUSPENDED}


def test_booked_job_waits_until_its_booking_starts():
    booking = Booking(7, 1, H100, start=NOW + HOUR, end=NOW + 5 * HOUR, node_indices=(1,))
    snapshot = site(
        nodes=2,
        projects=[project(1)],
        pending=[job("booked", 1, gpus=8, booking_id=7)],
        bookings=[booking],
    )

    result = admission_cycle(snapshot)

    assert result.waiting == {"booked": WaitReason.BOOKING_NOT_STARTED}


def test_booked_job_runs_on_its_booked_nodes_without_holding_budget():
    booking = Booking(7, 1, H100, start=NOW - HOUR, end=NOW + 5 * HOUR, node_indices=(1,))
    snapshot = site(
        nodes=2,
        projects=[project(1, budget_gpu_hours=0)],
        pending=[job("booked", 1, gpus=8, booking_id=7)],
        bookings=[booking],
    )

    [admission] = admission_cycle(snapshot).admissions

    assert (admission.job_id, admission.placement, admission.hold_gpu_hours) == (
        "booked",
        ((1, 8),),
        0.0,
    )


def test_booked_nodes_are_kept_out_of_the_general_pool():
    booking = Booking(7, 1, H100, start=NOW + HOUR, end=NOW + 5 * HOUR, node_indices=(1,))
    snapshot = site(
        nodes=2,
        projects=[project(2)],
        pending=[job("general-0", 2, gpus=8), job("general-1", 2, gpus=8)],
        bookings=[booking],
    )

    assert admitted_ids(snapshot) == ["general-0"]
