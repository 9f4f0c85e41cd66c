"""GET /api/v1/me/: who am I, my organisations and my priority tier."""

from collections.abc import Callable

from pytest_django import DjangoAssertNumQueries
from rest_framework.test import APIClient

from accounts.models import MembershipRole, Organisation, User
from tests.error_shape import assert_error
from tests.factories import MembershipFactory, OrganisationFactory

Api = Callable[[User | None], APIClient]


def test_alice_is_a_european_academic(api: Api, alice: User, alice_org: Organisation) -> None:
    body = api(alice).get("/api/v1/me/").json()

    assert body == {
        "id": alice.pk,
        "email": "alice@uio.no",
        "full_name": alice.full_name,
        "is_staff": False,
        "priority_tier": {"value": 1, "label": "European academic"},
        "organisations": [
            {
                "id": alice_org.pk,
                "name": "University of Oslo",
                "role": "owner",
                "verification_state": "verified",
                "priority_tier": {"value": 1, "label": "European academic"},
            }
        ],
    }


def test_bob_is_a_european_startup(api: Api, bob: User) -> None:
    body = api(bob).get("/api/v1/me/").json()

    assert body["priority_tier"] == {"value": 2, "label": "European startup"}
    assert [o["name"] for o in body["organisations"]] == ["Fjord AI AS"]


def test_charlie_is_international_and_sees_only_his_own_organisation(
    api: Api, charlie: User, alice: User
) -> None:
    body = api(charlie).get("/api/v1/me/").json()

    assert body["email"] == "charlie@acme.example"
    assert body["priority_tier"] == {"value": 4, "label": "International or unverified"}
    assert [o["name"] for o in body["organisations"]] == ["Acme Compute Inc"]


def test_staff_without_organisations_are_international(api: Api, staff: User) -> None:
    body = api(staff).get("/api/v1/me/").json()

    assert body["is_staff"] is True
    assert body["organisations"] == []
    assert body["priority_tier"]["value"] == 4


def test_a_member_of_several_organisations_gets_the_best_tier(
    api: Api, bob: User, alice_org: Organisation
) -> None:
    MembershipFactory.create(user=bob, organisation=alice_org, role=MembershipRole.MEMBER)
    MembershipFactory.create(user=bob, organisation=OrganisationFactory.create(pending=True))

    body = api(bob).get("/api/v1/me/").json()

    assert body["priority_tier"]["value"] == 1
    assert sorted(o["priority_tier"]["value"] for o in body["organisations"]) == [1, 2, 4]


def test_anonymous_visitors_must_authenticate(api: Api, db: None) -> None:
    response = api(None).get("/api/v1/me/")

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_me_costs_a_fixed_number_of_queries(
    api: Api, alice: User, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    for _ in range(5):
        MembershipFactory.create(
            user=alice, organisation=OrganisationFactory.create(domains=["x.example"])
        )

    with django_assert_max_num_queries(3):
        assert api(alice).get("/api/v1/me/").status_code == 200
