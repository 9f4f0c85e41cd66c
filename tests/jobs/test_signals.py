"""What the features tell each other: more GPU-hours put jobs held for budget back in the
queue (``gpu_hours_granted``), and new work in the queue asks for one admission cycle soon
(``jobs_queued``), once the write that queued it has committed."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import transaction
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from accounts.models import Organisation, User
from booking.admission import receivers
from booking.cluster.simulator.backend import SimulatorBackend
from booking.grants.services.projects import project_top_up
from booking.jobs.services import job_hold
from booking.ledger.services import ledger_adjust, ledger_charge, ledger_grant
from booking.models import GpuType, Job, JobEvent, Project
from tests.factories import AllocationFactory, GpuTypeFactory
from tests.fixtures.jobs import CycleRequests, cycle, project_for, queue

pytestmark = pytest.mark.django_db
DEBOUNCE_SECONDS = 2.0


def state_of(job: Job) -> tuple[str, str]:
    job.refresh_from_db()
    return job.state, job.reason


# -- more GPU-hours put jobs held for budget back in the queue -------------------------------


@pytest.fixture
def h200(db: None, sim: SimulatorBackend) -> GpuType:
    gpu_type = GpuTypeFactory.create(name="H200", memory_gb=141)
    sim.set_partition(gpu_type, nodes=2)
    return gpu_type


@pytest.fixture
def small_project(alice: User, alice_org: Organisation, h100: GpuType, h200: GpuType) -> Project:
    """20 GPU-hours of H100 and 20 of H200."""
    project = project_for(alice, alice_org, h100, gpu_hours=20, name="Small")
    AllocationFactory(project=project, gpu_type=h200)
    ledger_grant(project=project, gpu_type=h200, gpu_hours=Decimal(20), key="grant-h200")
    return project


def held_for_budget(user: User, project: Project, gpu_type: GpuType) -> Job:
    """A 16 GPU-hour job the cycle holds: a charge leaves the project 10 unspent hours."""
    job = queue(user, project, gpu_type_name=gpu_type.name, gpus=8, walltime_minutes=120)
    ledger_charge(
        project=project, gpu_type=gpu_type, gpu_hours=Decimal(10), key=f"charge-{gpu_type}"
    )
    return job


@pytest.fixture
def held_jobs(
    alice: User, staff: User, small_project: Project, h100: GpuType, h200: GpuType
) -> dict[str, Job]:
    """alice's jobs held for budget on H100 and on H200, and one held by staff on H100."""
    by_staff = queue(alice, small_project, gpus=1, walltime_minutes=60)
    job_hold(job=by_staff, staff=staff, reason="Checking the script.")
    jobs = {
        "h100": held_for_budget(alice, small_project, h100),
        "h200": held_for_budget(alice, small_project, h200),
        "by_staff": by_staff,
    }
    cycle()
    assert state_of(jobs["h100"]) == ("held", "budget_exhausted")
    assert state_of(jobs["h200"]) == ("held", "budget_exhausted")
    assert state_of(by_staff) == ("held", "held_by_staff")
    return jobs


def more_hours(how: str, project: Project, gpu_type: GpuType, staff: User) -> None:
    """Move the project's ``gpu_type`` hours as ``how`` says."""
    figures: dict[str, Any] = {"project": project, "gpu_type": gpu_type}
    if how == "staff top-up":
        project_top_up(
            **figures, staff=staff, gpu_hours=Decimal(10), reason="Top-up.", key="top-up"
        )
    elif how == "award grant":
        ledger_grant(**figures, gpu_hours=Decimal(10), key="award-extra")
    elif how == "adjustment up":
        ledger_adjust(
            **figures, gpu_hours=Decimal(10), key="adjust", actor=staff, reason="Miscounted."
        )
    else:
        ledger_adjust(
            **figures, gpu_hours=Decimal(-5), key="adjust", actor=staff, reason="Miscounted."
        )


@pytest.mark.parametrize("how", ["staff top-up", "award grant", "adjustment up"])
def test_more_hours_put_that_gpu_types_jobs_held_for_budget_back_in_the_queue(
    staff: User,
    small_project: Project,
    h100: GpuType,
    held_jobs: dict[str, Job],
    clock: time_machine.Traveller,
    how: str,
) -> None:
    more_hours(how, small_project, h100, staff)

    assert state_of(held_jobs["h100"]) == ("pending", "priority")
    back = JobEvent.objects.filter(job=held_jobs["h100"]).order_by("pk").last()
    assert back is not None
    assert (back.from_state, back.to_state) == ("held", "pending")
    assert "more GPU-hours" in back.message
    assert state_of(held_jobs["h200"]) == ("held", "budget_exhausted")
    assert state_of(held_jobs["by_staff"]) == ("held", "held_by_staff")
    assert cycle().admitted == [held_jobs["h100"].pk]  # 20 unspent now cover its 16


def test_an_adjustment_down_leaves_jobs_held_for_budget_held(
    staff: User,
    small_project: Project,
    h100: GpuType,
    held_jobs: dict[str, Job],
    clock: time_machine.Traveller,
) -> None:
    events = JobEvent.objects.count()

    more_hours("adjustment down", small_project, h100, staff)

    assert state_of(held_jobs["h100"]) == ("held", "budget_exhausted")
    assert state_of(held_jobs["by_staff"]) == ("held", "held_by_staff")
    assert JobEvent.objects.count() == events


def test_more_hours_for_another_project_leave_alices_held_jobs_held(
    staff: User,
    bob_project: Project,
    h100: GpuType,
    held_jobs: dict[str, Job],
    clock: time_machine.Traveller,
) -> None:
    more_hours("staff top-up", bob_project, h100, staff)

    assert state_of(held_jobs["h100"]) == ("held", "budget_exhausted")


# -- new work asks for one admission cycle ---------------------------------------------------


@pytest.fixture
def cycle_requests(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CycleRequests:
    settings.ADMISSION_ON_SUBMIT = True
    settings.ADMISSION_DEBOUNCE_SECONDS = DEBOUNCE_SECONDS
    requests = CycleRequests()
    monkeypatch.setattr(receivers, "admission_cycle_run", requests)
    return requests


Capture = DjangoCaptureOnCommitCallbacks


def test_two_quick_submits_ask_for_one_cycle_after_the_debounce(
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    cycle_requests: CycleRequests,
    django_capture_on_commit_callbacks: Capture,
    clock: time_machine.Traveller,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        submit(alice, alice_project)
        assert cycle_requests.countdowns == []  # not before the submit commits
    with django_capture_on_commit_callbacks(execute=True):
        submit(alice, alice_project, gpus=2)

    assert cycle_requests.countdowns == [DEBOUNCE_SECONDS]


def test_a_submit_after_the_debounce_window_asks_again(
    alice: User,
    alice_project: Project,
    cycle_requests: CycleRequests,
    django_capture_on_commit_callbacks: Capture,
    clock: time_machine.Traveller,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        queue(alice, alice_project)
    clock.shift(timedelta(seconds=DEBOUNCE_SECONDS + 1))

    with django_capture_on_commit_callbacks(execute=True):
        queue(alice, alice_project)

    assert cycle_requests.countdowns == [DEBOUNCE_SECONDS, DEBOUNCE_SECONDS]


def queue_then_fail(user: User, project: Project) -> None:
    """A request that submits a job, then fails before its transaction commits."""
    with transaction.atomic():
        queue(user, project)
        raise RuntimeError("the request failed after the submit")


def test_a_submit_that_rolls_back_asks_for_nothing(
    alice: User,
    alice_project: Project,
    cycle_requests: CycleRequests,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        queue_then_fail(alice, alice_project)

    assert callbacks == []
    assert cycle_requests.countdowns == []
    assert cache.get(receivers.REQUESTED_KEY) is None
    assert not Job.objects.exists()


def test_submits_ask_for_nothing_when_admission_on_submit_is_off(
    settings: Settings,
    alice: User,
    alice_project: Project,
    cycle_requests: CycleRequests,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    settings.ADMISSION_ON_SUBMIT = False

    with django_capture_on_commit_callbacks(execute=True):
        queue(alice, alice_project)

    assert cycle_requests.countdowns == []


def test_jobs_back_in_the_queue_after_a_top_up_ask_for_a_cycle(
    staff: User,
    small_project: Project,
    h100: GpuType,
    held_jobs: dict[str, Job],
    cycle_requests: CycleRequests,
    django_capture_on_commit_callbacks: Capture,
    clock: time_machine.Traveller,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        more_hours("staff top-up", small_project, h100, staff)

    assert state_of(held_jobs["h100"])[0] == "pending"
    assert cycle_requests.countdowns == [DEBOUNCE_SECONDS]


def test_an_adjustment_down_asks_for_no_cycle(
    staff: User,
    small_project: Project,
    h100: GpuType,
    held_jobs: dict[str, Job],
    cycle_requests: CycleRequests,
    django_capture_on_commit_callbacks: Capture,
    clock: time_machine.Traveller,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        more_hours("adjustment down", small_project, h100, staff)

    assert cycle_requests.countdowns == []
