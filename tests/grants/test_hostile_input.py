"""What an attacker or a careless client sent to the grant endpoints and got a 500 or a stored
impossible value for: now each is a 400 in the error shape, next to its field, and the database
refuses the impossible values by itself."""

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from booking.models import Application, Call, CallPool, Project, ProjectInvitation
from tests.error_shape import assert_error

pytestmark = pytest.mark.django_db
Api = Callable[[User | None], APIClient]


def test_inviting_an_e_mail_longer_than_its_column_is_400(
    api: Api, alice: User, project: Project
) -> None:
    email = "a" * 245 + "@uio.no.eu"  # 255 characters, the column holds 254

    response = api(alice).post(
        f"/api/v1/projects/{project.pk}/members/", {"email": email}, format="json"
    )

    body = assert_error(response, 400, "invalid")
    assert set(body["details"]) == {"email"}
    assert not ProjectInvitation.objects.filter(email=email).exists()


def test_inviting_an_over_long_e_mail_in_the_portal_is_refused_next_to_the_field(
    login: Callable[[User], object], alice: User, project: Project
) -> None:
    response = login(alice).post(  # type: ignore[attr-defined]
        reverse("grants:project_members", args=[project.pk]),
        {"email": "a" * 250 + "@uio.no", "role": "member"},
    )

    assert response.status_code == 200
    assert "email" in response.context["form"].errors


def test_a_nul_byte_in_an_award_key_is_400(
    api: Api, staff: User, portal_submitted: Application
) -> None:
    response = api(staff).post(
        f"/api/v1/staff/applications/{portal_submitted.pk}/award/",
        {"gpu_hours": {"H100\x00": 10}, "reason": "r"},
        format="json",
    )

    body = assert_error(response, 400, "invalid")
    assert "\x00" not in response.content.decode()
    assert "without NUL" in str(body["details"]["gpu_hours"])


def test_a_nul_byte_or_an_over_long_key_in_call_pools_is_400(api: Api, staff: User) -> None:
    for pools in ({"\x00": 10}, {"H" * 33: 10}, {"": 10}):
        response = api(staff).post(
            "/api/v1/staff/calls/",
            {
                "title": "T",
                "description": "D",
                "opens_at": "2030-01-01T00:00:00Z",
                "closes_at": "2030-02-01T00:00:00Z",
                "allowed_tiers": [1],
                "max_request_gpu_hours": 10,
                "pools": pools,
            },
            format="json",
        )

        assert set(assert_error(response, 400, "invalid")["details"]) == {"pools"}
    assert not Call.objects.exists()


def test_malformed_review_criteria_are_400_not_500(api: Api, staff: User) -> None:
    base = {
        "title": "T",
        "description": "D",
        "opens_at": "2030-01-01T00:00:00Z",
        "closes_at": "2030-02-01T00:00:00Z",
        "allowed_tiers": [1],
        "max_request_gpu_hours": 10,
        "pools": {"H100": 10},
    }
    for criteria in ([["Excellence", "fifty"]], [["x" * 201, 5]], [[{"a": 1}, 5]], [["E", 0]]):
        response = api(staff).post("/api/v1/staff/calls/", base | {"criteria": criteria})

        assert set(assert_error(response, 400, "invalid")["details"]) == {"criteria"}


def test_a_negative_or_absurd_model_size_is_400_and_nothing_is_stored(
    api: Api, alice: User, draft: Application
) -> None:
    for size in ("-7", "100001"):
        response = api(alice).patch(
            f"/api/v1/applications/{draft.pk}/",
            {"model_size_billion_parameters": size},
            format="json",
        )

        assert set(assert_error(response, 400, "invalid")["details"]) == {
            "model_size_billion_parameters"
        }
    draft.refresh_from_db()
    assert draft.model_size_billion_parameters == Decimal(7)


def test_the_portal_refuses_a_negative_model_size_next_to_the_field(
    login: Callable[[User], object], alice: User, draft: Application
) -> None:
    from booking.grants.portal.forms import ScienceForm

    form = ScienceForm(data={"model_size_billion_parameters": "-1"})

    assert not form.is_valid()
    assert "model_size_billion_parameters" in form.errors


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model_size_billion_parameters", Decimal(-1)),
        ("model_size_billion_parameters", Decimal(100_001)),
        ("gpus_per_job", 0),
        ("typical_walltime_hours", 0),
        ("typical_walltime_hours", 9000),
    ],
)
def test_the_database_refuses_impossible_application_quantities(
    draft: Application, field: str, value: object
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Application.objects.filter(pk=draft.pk).update(**{field: value})


@pytest.mark.postgres
def test_the_database_refuses_an_empty_pool_and_an_absurd_criterion_weight(call: Call) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        CallPool.objects.filter(call=call).update(gpu_hours=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        call.criteria.update(weight=1001)


def test_an_object_that_is_not_a_number_in_a_url_is_404_not_500(api: Api, reviewer: User) -> None:
    for path in ("/api/v1/reviews/null,null/scores/", "/api/v1/reviews/abc/conflict/"):
        response = api(reviewer).post(path, {"reason": "r", "scores": []}, format="json")

        assert_error(response, 404, "not_found")
