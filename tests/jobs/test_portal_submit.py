"""Submitting a job in the portal: the form, its budget preview, bad input next to the field,
and a double submit that queues the job once."""

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Organisation, User
from booking.ledger.services import ledger_hold
from booking.models import GpuType, Job, Project, ProjectState
from tests.factories import GpuTypeFactory, ProjectFactory
from tests.fixtures.jobs import MINUS, SUBMIT_URL, form_data, job_url, project_for
from tests.pages import error_is_linked_to_input, field_errors, form_errors, page_text

pytestmark = pytest.mark.django_db
BUDGET_URL = reverse("jobs:job_budget")
GPU_TYPES_URL = reverse("jobs:job_gpu_types")


def test_the_form_offers_only_my_projects_and_their_gpu_types(
    login: Any, alice: User, alice_project: Project, bob_project: Project
) -> None:
    body = login(alice).get(SUBMIT_URL).content.decode()

    assert f'<option value="{alice_project.pk}" selected>NorLLM</option>' in body
    assert "Fjord vision" not in body
    assert '<option value="H100">H100</option>' in body
    assert 'name="idempotency_key"' in body


def test_a_member_submits_a_job_and_lands_on_its_page(
    login: Any, alice: User, alice_project: Project
) -> None:
    response = login(alice).post(SUBMIT_URL, form_data(alice_project), follow=True)

    job = Job.objects.get()
    assert response.redirect_chain == [(job_url(job), 302)]
    assert (job.gpus, job.walltime_minutes, job.environment) == (4, 120, {"EPOCHS": "3"})
    assert (job.submitted_by, job.project, job.state) == (alice, alice_project, "pending")
    text = page_text(response)
    assert "Your job is queued." in text
    assert "State: Pending" in text


def test_a_container_image_and_command_run_instead_of_a_script(
    login: Any, alice: User, alice_project: Project
) -> None:
    data = form_data(
        alice_project,
        script="",
        container_image="nvcr.io/nvidia/pytorch:24.05",
        command="torchrun train.py",
        walltime="1h30m",
    )

    login(alice).post(SUBMIT_URL, data)

    job = Job.objects.get()
    assert (job.container_image, job.command, job.walltime_minutes) == (
        "nvcr.io/nvidia/pytorch:24.05",
        "torchrun train.py",
        90,
    )


def test_a_double_submit_with_the_same_idempotency_key_queues_one_job(
    login: Any, alice: User, alice_project: Project
) -> None:
    client = login(alice)
    first = client.post(SUBMIT_URL, form_data(alice_project))

    again = client.post(SUBMIT_URL, form_data(alice_project), follow=True)

    job = Job.objects.get()
    assert first["Location"] == job_url(job)
    assert again.redirect_chain == [(job_url(job), 302)]
    assert "This job was already submitted; here it is." in page_text(again)


def test_each_showing_of_the_form_has_its_own_idempotency_key(
    login: Any, alice: User, alice_project: Project
) -> None:
    client = login(alice)

    keys = [
        client.get(SUBMIT_URL).context["form"].initial["idempotency_key"] for _attempt in (1, 2)
    ]

    assert keys[0] != keys[1]
    assert all(key.startswith("portal-") for key in keys)


def test_the_same_key_with_other_input_is_refused_and_queues_nothing_more(
    login: Any, alice: User, alice_project: Project
) -> None:
    client = login(alice)
    client.post(SUBMIT_URL, form_data(alice_project))

    response = client.post(SUBMIT_URL, form_data(alice_project, gpus=2))

    assert response.status_code == 200
    assert form_errors(response) == [
        "This Idempotency-Key was already used for a different job submission."
    ]
    assert Job.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"gpu_type": "A100"}, "gpu_type", "Select a valid choice. A100 is not one of the"),
        ({"gpus": 0}, "gpus", "Ask for 1 to 8 GPUs on one node, or a multiple of 8 up to 512."),
        ({"gpus": 9}, "gpus", "Ask for 1 to 8 GPUs on one node, or a multiple of 8 up to 512."),
        ({"gpus": "four"}, "gpus", "Enter a whole number."),
        ({"walltime": "49h"}, "walltime", "The walltime may be at most 48 h."),
        ({"walltime": "0m"}, "walltime", "The walltime must be at least one minute."),
        ({"walltime": "soon"}, "walltime", "Write the walltime as 2h, 90m, 1h30m or 2:30."),
        ({"script": "python train.py"}, "script", "A batch script starts with an interpreter"),
        ({"script": ""}, "script", "Give either a batch script or a container image and"),
        (
            {"script": "", "container_image": "Not An Image!", "command": "x"},
            "container_image",
            "Give a container image reference",
        ),
        ({"environment": "EPOCHS 3"}, "environment", "Line 1 is not KEY=VALUE: EPOCHS 3"),
        ({"environment": "A=1\nA=2"}, "environment", "A is given twice (line 2)."),
        ({"environment": "1BAD=x"}, "environment", "1BAD is not a valid variable name."),
        ({"name": ""}, "name", "This field is required."),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_queues_nothing(
    login: Any,
    alice: User,
    alice_project: Project,
    overrides: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = login(alice).post(SUBMIT_URL, form_data(alice_project, **overrides))

    assert response.status_code == 200
    errors = field_errors(response, field)
    assert any(error.startswith(message) for error in errors), errors
    assert error_is_linked_to_input(response, field)
    assert not Job.objects.exists()


def test_a_project_i_am_not_a_member_of_cannot_be_chosen(
    login: Any, alice: User, alice_project: Project, charlie_project: Project
) -> None:
    response = login(alice).post(SUBMIT_URL, form_data(charlie_project))

    assert field_errors(response, "project") == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert not Job.objects.exists()


def test_a_project_without_an_allocation_for_the_gpu_type_is_refused_next_to_the_type(
    login: Any, alice: User, alice_org: Organisation, alice_project: Project
) -> None:
    bare = ProjectFactory.create(organisation=alice_org, name="No hours yet")
    bare.members.create(user=alice, role="pi")

    response = login(alice).post(SUBMIT_URL, form_data(bare))

    assert field_errors(response, "gpu_type") == ["No hours yet has no allocation for H100."]
    assert not Job.objects.exists()


def test_a_suspended_project_is_refused_next_to_the_project(
    login: Any, alice: User, alice_project: Project
) -> None:
    Project.objects.filter(pk=alice_project.pk).update(state=ProjectState.SUSPENDED)

    response = login(alice).post(SUBMIT_URL, form_data(alice_project))

    assert field_errors(response, "project") == ["The project is suspended."]
    assert not Job.objects.exists()


def test_a_job_beyond_the_allocation_is_refused_next_to_the_walltime(
    login: Any, alice: User, alice_org: Organisation, h100: GpuType
) -> None:
    small = project_for(alice, alice_org, h100, gpu_hours=10, name="Small")

    response = login(alice).post(SUBMIT_URL, form_data(small, gpus=8))  # 16 GPU-hours

    assert field_errors(response, "walltime") == [
        "The job needs 16.0000 GPU-hours; the allocation has 10.0000 left."
    ]
    assert not Job.objects.exists()


def test_a_person_without_projects_is_told_how_to_get_one(login: Any, bob: User) -> None:
    text = page_text(login(bob).get(SUBMIT_URL))

    assert "Jobs run for a project, and you are not in one yet." in text
    assert "Apply to an open call" in text


# -- the budget preview ----------------------------------------------------------------------


def preview(client: Any, project: Project, **overrides: Any) -> str:
    params = {"project": project.pk, "gpu_type": "H100", "gpus": 4, "walltime": "2h"} | overrides
    return page_text(client.get(BUDGET_URL, params))


def test_the_budget_preview_shows_the_hold_against_the_available_balance(
    login: Any, alice: User, alice_project: Project
) -> None:
    text = preview(login(alice), alice_project)

    assert "Within budget." in text
    assert "Hold on admission 8 GPU-hours" in text
    assert f"Available now 1,000 GPU-hours (granted 1,000 {MINUS} held 0 {MINUS} charged 0)" in text
    assert "Available after admission 992 GPU-hours" in text


def test_the_budget_preview_says_when_other_holds_make_the_job_wait(
    login: Any, alice: User, alice_project: Project, h100: GpuType
) -> None:
    ledger_hold(project=alice_project, gpu_type=h100, gpu_hours=Decimal(995), key="other-hold")

    text = preview(login(alice), alice_project)

    assert "Would exceed the available balance." in text
    assert "5 are available now because other jobs hold 995" in text


def test_the_budget_preview_says_when_the_job_would_be_refused(
    login: Any, alice: User, alice_project: Project
) -> None:
    text = preview(login(alice), alice_project, gpus=64, walltime="48h")  # 3,072 GPU-hours

    assert "Would exceed the allocation." in text
    assert "This job needs 3,072 GPU-hours of H100, and NorLLM has 1,000 left" in text


def test_the_budget_preview_waits_for_complete_input(
    login: Any, alice: User, alice_project: Project
) -> None:
    text = preview(login(alice), alice_project, walltime="")

    assert "enter GPUs and walltime, to see the GPU-hours this job will hold" in text


def test_the_budget_preview_shows_nothing_of_another_tenants_project(
    login: Any, charlie: User, alice_project: Project
) -> None:
    text = preview(login(charlie), alice_project)

    assert "1,000" not in text
    assert "enter GPUs and walltime, to see the GPU-hours this job will hold" in text


def test_the_budget_preview_is_shown_again_with_the_form_after_an_error(
    login: Any, alice: User, alice_project: Project
) -> None:
    response = login(alice).post(SUBMIT_URL, form_data(alice_project, name=""))

    assert "Hold on admission 8 GPU-hours" in page_text(response)


def test_choosing_another_project_offers_its_gpu_types(
    login: Any, alice: User, alice_org: Organisation, alice_project: Project
) -> None:
    h200 = GpuTypeFactory.create(name="H200")
    other = project_for(alice, alice_org, h200, name="Vision")

    response = login(alice).get(GPU_TYPES_URL, {"project": other.pk})

    body = response.content.decode()
    assert '<option value="H200">H200</option>' in body
    assert "H100" not in body
    assert response["HX-Trigger-After-Settle"] == "budget-inputs-changed"


def test_a_member_asks_for_strict_order_in_the_form(
    login: Any, alice: User, alice_project: Project
) -> None:
    client = login(alice)
    assert 'name="strict_order"' in client.get(SUBMIT_URL).content.decode()

    client.post(SUBMIT_URL, form_data(alice_project, strict_order="on"))
    client.post(SUBMIT_URL, form_data(alice_project, idempotency_key="portal-test-2"))

    assert list(Job.objects.order_by("pk").values_list("strict_order", flat=True)) == [True, False]


@pytest.mark.parametrize("number", ["²", "٣", "9" * 40, "-1", "1e3"])
def test_numbers_in_the_query_string_that_are_not_ids_are_ignored(
    login: Any, alice: User, alice_project: Project, number: str
) -> None:
    """Links to the form carry a project, a booking and a size; "²" passes ``str.isdigit`` and
    a 40-digit id fits no column: each is dropped, never a server error."""
    client = login(alice)
    query = {"project": number, "booking": number, "gpus": number}

    form = client.get(SUBMIT_URL, query)
    preview = client.get(BUDGET_URL, query | {"gpu_type": "H100"})
    posted = client.post(SUBMIT_URL, form_data(alice_project) | {"project": number})

    assert form.status_code == 200
    assert f'<option value="{alice_project.pk}" selected>NorLLM</option>' in form.content.decode()
    assert preview.status_code == 200
    assert posted.status_code == 200
    assert field_errors(posted, "project") != []
    assert not Job.objects.exists()
