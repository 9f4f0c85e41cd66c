"""Every bad submission is refused with a specific code, and creates nothing."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from booking.ledger.services import ledger_hold
from booking.models import Allocation, Job, Project, ProjectState
from tests.error_shape import assert_error
from tests.factories import GpuTypeFactory
from tests.fixtures.jobs import job_body

pytestmark = pytest.mark.django_db
Api = Callable[[User | None], APIClient]


def post(api: Api, user: User, to: Project, **overrides: Any) -> Any:
    return api(user).post("/api/v1/jobs/", job_body(to, **overrides), format="json")


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"gpu_type": "A100"}, 400, "unknown_gpu_type"),
        ({"gpus": 0}, 400, "invalid_gpus"),
        ({"gpus": -8}, 400, "invalid_gpus"),
        ({"gpus": 12}, 400, "invalid_gpus"),
        ({"gpus": 1024}, 400, "invalid_gpus"),
        ({"gpus": "four"}, 400, "invalid"),
        ({"walltime_minutes": 0}, 400, "invalid_walltime"),
        ({"walltime_minutes": 48 * 60 + 1}, 400, "walltime_too_long"),
        ({"script": "python train.py"}, 400, "invalid_script"),
        ({"script": "#!/bin/sh\n" + "x" * 64 * 1024}, 400, "invalid_script"),
        ({"script": "#!/bin/sh\necho \x00"}, 400, "invalid"),  # DRF refuses NUL itself
        ({"script": ""}, 400, "script_or_container"),
        (
            {"container_image": "nvcr.io/nvidia/pytorch:24.05", "command": "x"},
            400,
            "script_or_container",
        ),
        (
            {"script": "", "container_image": "Not An Image!", "command": "x"},
            400,
            "invalid_container",
        ),
        (
            {"script": "", "container_image": "pytorch/pytorch:2.3", "command": " "},
            400,
            "invalid_container",
        ),
        ({"environment": {"1BAD": "x"}}, 400, "invalid_environment"),
        ({"environment": {f"V{i}": "x" for i in range(101)}}, 400, "invalid_environment"),
        ({"project": 999_999}, 404, "not_found"),
    ],
)
def test_bad_input_is_refused_with_its_code(
    api: Api,
    alice: User,
    alice_project: Project,
    overrides: dict[str, Any],
    status: int,
    code: str,
) -> None:
    assert_error(post(api, alice, alice_project, **overrides), status, code)
    assert not Job.objects.exists()


def test_the_largest_allowed_job_and_walltime_are_accepted(
    api: Api, alice: User, alice_project: Project
) -> None:
    response = post(api, alice, alice_project, gpus=16, walltime_minutes=30)

    assert response.status_code == 201, response.json()


@override_settings(JOBS_MAX_GPUS=64, JOBS_MAX_WALLTIME_MINUTES=60)
def test_the_limits_come_from_the_settings(api: Api, alice: User, alice_project: Project) -> None:
    assert_error(post(api, alice, alice_project, gpus=72), 400, "invalid_gpus")
    assert_error(post(api, alice, alice_project, walltime_minutes=61), 400, "walltime_too_long")


def test_charlie_cannot_submit_to_alices_project(
    api: Api, charlie: User, alice_project: Project
) -> None:
    assert_error(post(api, charlie, alice_project), 404, "not_found")


def test_staff_who_are_not_members_cannot_submit(
    api: Api, staff: User, alice_project: Project
) -> None:
    assert_error(post(api, staff, alice_project), 403, "not_a_member")


def test_a_suspended_project_cannot_submit(api: Api, alice: User, alice_project: Project) -> None:
    Project.objects.filter(pk=alice_project.pk).update(state=ProjectState.SUSPENDED)

    assert_error(post(api, alice, alice_project), 409, "project_suspended")


def test_a_gpu_type_without_allocation_is_refused(
    api: Api, alice: User, alice_project: Project
) -> None:
    GpuTypeFactory(name="H200", memory_gb=141)

    assert_error(post(api, alice, alice_project, gpu_type="H200"), 409, "no_allocation")


def test_an_allocation_that_ended_is_refused(api: Api, alice: User, alice_project: Project) -> None:
    yesterday = timezone.localdate() - timedelta(days=1)
    Allocation.objects.filter(project=alice_project).update(
        starts_on=yesterday - timedelta(days=30), ends_on=yesterday
    )

    assert_error(post(api, alice, alice_project), 409, "allocation_inactive")


def test_a_job_larger_than_the_unspent_allocation_is_refused(
    api: Api, alice: User, alice_project: Project
) -> None:
    body = assert_error(
        post(api, alice, alice_project, gpus=24, walltime_minutes=48 * 60),
        409,
        "budget_exhausted",
    )

    assert body["details"]["hold_gpu_hours"] == "1152.0000"
    assert body["details"]["unspent_gpu_hours"] == "1000.0000"
    assert post(api, alice, alice_project, gpus=16, walltime_minutes=48 * 60).status_code == 201


def test_a_job_that_fits_once_running_jobs_release_their_holds_is_accepted_and_waits(
    api: Api, alice: User, alice_project: Project
) -> None:
    gpu_type = alice_project.allocations.get().gpu_type
    ledger_hold(project=alice_project, gpu_type=gpu_type, gpu_hours=Decimal(990), key="other")

    response = post(api, alice, alice_project, gpus=8, walltime_minutes=120)

    assert response.status_code == 201
    assert response.json()["state"] == "pending"


def test_an_idempotency_key_longer_than_200_characters_is_refused(
    api: Api, alice: User, alice_project: Project
) -> None:
    response = api(alice).post(
        "/api/v1/jobs/", job_body(alice_project), format="json", HTTP_IDEMPOTENCY_KEY="k" * 201
    )

    assert_error(response, 400, "invalid_idempotency_key")
