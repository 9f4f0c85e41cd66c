"""/api/v1/organisations/: create, list mine, read, edit; foreign organisations are 404."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries
from rest_framework.test import APIClient

from accounts.models import (
    Membership,
    MembershipRole,
    Organisation,
    OrganisationDomain,
    User,
    VerificationDecision,
)
from tests.error_shape import assert_error
from tests.factories import MembershipFactory, OrganisationFactory

Api = Callable[[User | None], APIClient]

NTNU: dict[str, Any] = {
    "name": "NTNU",
    "kind": "university",
    "country": "NO",
    "registration_number": "974 767 880",
    "website": "https://www.ntnu.no",
    "founded_on": "1910-01-01",
    "email_domains": ["ntnu.no"],
}


def url(organisation: Organisation | None = None) -> str:
    return f"/api/v1/organisations/{organisation.pk}/" if organisation else "/api/v1/organisations/"


def test_alice_lists_only_her_organisations_with_her_role_and_tier(
    api: Api, alice: User, alice_org: Organisation, bob: User, charlie: User
) -> None:
    body = api(alice).get(url()).json()

    assert body["count"] == 1
    assert body["next"] is None
    (organisation,) = body["results"]
    assert organisation == {
        "id": alice_org.pk,
        "name": "University of Oslo",
        "kind": "university",
        "country": "NO",
        "registration_number": "971035854",
        "website": "",
        "founded_on": "1811-09-02",
        "email_domains": ["uio.no"],
        "verification_state": "verified",
        "verification_reason": "Checked the registry.",
        "verification_decided_at": organisation["verification_decided_at"],
        "priority_tier": {"value": 1, "label": "European academic"},
        "my_role": "owner",
        "created_at": organisation["created_at"],
    }


def test_creating_an_organisation_makes_me_its_owner_pending_verification(
    api: Api, alice: User
) -> None:
    response = api(alice).post(url(), NTNU)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "NTNU"
    assert body["registration_number"] == "974767880"
    assert body["email_domains"] == ["ntnu.no"]
    assert body["verification_state"] == "pending"
    assert body["priority_tier"]["value"] == 4
    assert body["my_role"] == "owner"
    assert Membership.objects.get(organisation_id=body["id"]).user == alice


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"registration_number": "974767881"}, "registration_number"),
        ({"country": "XX"}, "country"),
        # Two days ahead: the parameters are computed when the tests are collected, and a run
        # that crosses midnight made "tomorrow" today (three CI failures at 00:00 UTC).
        ({"founded_on": (timezone.localdate() + timedelta(days=2)).isoformat()}, "founded_on"),
        ({"name": "university of oslo"}, "name"),
        ({"email_domains": ["uio.no"]}, "email_domains"),
        ({"kind": "spaceship"}, "kind"),
        ({"website": "ntnu"}, "website"),
    ],
)
def test_creating_an_invalid_organisation_is_a_400_naming_the_field_and_saves_nothing(
    api: Api, alice: User, changes: dict[str, Any], field: str
) -> None:
    organisations = Organisation.objects.count()

    response = api(alice).post(url(), NTNU | changes)

    body = assert_error(response, 400, "invalid")
    assert list(body["details"]) == [field]
    assert isinstance(body["details"][field][0], str)
    assert Organisation.objects.count() == organisations
    assert not OrganisationDomain.objects.filter(domain="ntnu.no").exists()


def test_missing_fields_are_each_reported(api: Api, alice: User) -> None:
    body = assert_error(api(alice).post(url(), {}), 400, "invalid")

    assert body["details"] == {
        "name": ["This field is required."],
        "kind": ["This field is required."],
        "country": ["This field is required."],
    }


def test_alice_reads_her_organisation(api: Api, alice: User, alice_org: Organisation) -> None:
    body = api(alice).get(url(alice_org)).json()

    assert body["name"] == "University of Oslo"
    assert body["my_role"] == "owner"


def test_an_owner_edits_the_website_and_stays_verified(
    api: Api, alice: User, alice_org: Organisation
) -> None:
    response = api(alice).patch(url(alice_org), {"website": "https://www.uio.no"})

    assert response.status_code == 200, response.content
    assert response.json()["website"] == "https://www.uio.no"
    assert response.json()["verification_state"] == "verified"
    assert response.json()["priority_tier"]["value"] == 1


def test_changing_the_kind_sends_the_organisation_back_to_verification(
    api: Api, alice: User, alice_org: Organisation
) -> None:
    response = api(alice).patch(url(alice_org), {"kind": "research_institute"})

    assert response.status_code == 200, response.content
    assert response.json()["verification_state"] == "pending"
    assert response.json()["priority_tier"]["value"] == 4
    assert VerificationDecision.objects.get(organisation=alice_org).decision == "reopened"


def test_an_invalid_edit_is_a_400_and_changes_nothing(
    api: Api, alice: User, alice_org: Organisation
) -> None:
    response = api(alice).patch(
        url(alice_org), {"website": "https://uio.no", "founded_on": "2999-01-01"}
    )

    body = assert_error(response, 400, "invalid")
    assert list(body["details"]) == ["founded_on"]
    alice_org.refresh_from_db()
    assert alice_org.website == ""


def test_a_plain_member_cannot_edit_the_organisation(
    api: Api, dave: User, alice_org: Organisation
) -> None:
    response = api(dave).patch(url(alice_org), {"website": "https://evil.example"})

    assert_error(response, 403, "permission_denied")
    alice_org.refresh_from_db()
    assert alice_org.website == ""


def test_an_admin_can_edit_the_organisation(api: Api, alice_org: Organisation) -> None:
    admin = MembershipFactory.create(organisation=alice_org, role=MembershipRole.ADMIN).user

    response = api(admin).patch(url(alice_org), {"website": "https://www.uio.no"})

    assert response.status_code == 200
    assert response.json()["my_role"] == "admin"


@pytest.mark.parametrize("method", ["get", "patch"])
def test_charlie_gets_404_for_alices_organisation(
    api: Api, charlie: User, alice: User, alice_org: Organisation, method: str
) -> None:
    response = getattr(api(charlie), method)(url(alice_org), {"website": "https://evil.example"})

    assert_error(response, 404, "not_found")
    alice_org.refresh_from_db()
    assert alice_org.website == ""


def test_an_organisation_id_that_is_not_a_number_is_404(api: Api, alice: User) -> None:
    assert_error(api(alice).get("/api/v1/organisations/abc/"), 404, "not_found")


def test_replacing_an_organisation_with_put_is_not_allowed(
    api: Api, alice: User, alice_org: Organisation
) -> None:
    body = assert_error(api(alice).put(url(alice_org), NTNU), 405, "method_not_allowed")

    assert "PUT" in body["message"]


# Filters, pagination, query counts ----------------------------------------------------------


@pytest.fixture
def many_organisations(alice: User) -> list[Organisation]:
    organisations = [
        OrganisationFactory.create(name="Oslo Met", country="NO", domains=["oslomet.no"]),
        OrganisationFactory.create(name="Lund University", country="SE", domains=["lu.se"]),
        OrganisationFactory.create(
            name="Oslo Startup AS", kind="startup", country="NO", pending=True
        ),
        OrganisationFactory.create(
            name="KTH", country="SE", kind="research_institute", pending=True
        ),
    ]
    for organisation in organisations:
        MembershipFactory.create(user=alice, organisation=organisation, role=MembershipRole.ADMIN)
    return organisations


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [o["name"] for o in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("verification_state=pending", ["KTH", "Oslo Startup AS"]),
        ("country=se", ["KTH", "Lund University"]),
        ("name=oslo", ["Oslo Met", "Oslo Startup AS", "University of Oslo"]),
        ("kind=startup", ["Oslo Startup AS"]),
        ("country=NO&verification_state=verified", ["Oslo Met", "University of Oslo"]),
        ("ordering=-name&country=SE", ["Lund University", "KTH"]),
    ],
)
def test_my_organisations_can_be_filtered(
    api: Api, alice: User, many_organisations: list[Organisation], query: str, expected: list[str]
) -> None:
    assert names(api(alice).get(f"{url()}?{query}")) == expected


def test_an_unknown_filter_value_is_a_400(api: Api, alice: User) -> None:
    body = assert_error(api(alice).get(f"{url()}?verification_state=maybe"), 400, "invalid")

    assert "verification_state" in body["details"]


def test_my_organisations_are_paginated(
    api: Api, alice: User, many_organisations: list[Organisation]
) -> None:
    first = api(alice).get(f"{url()}?page_size=2").json()
    last = api(alice).get(f"{url()}?page_size=2&page=3").json()

    assert first["count"] == 5
    assert [o["name"] for o in first["results"]] == ["KTH", "Lund University"]
    assert first["next"].endswith("page=2&page_size=2")
    assert [o["name"] for o in last["results"]] == ["University of Oslo"]
    assert last["next"] is None
    assert_error(api(alice).get(f"{url()}?page=9"), 404, "not_found")


def test_listing_my_organisations_costs_the_same_queries_for_more_rows(
    api: Api, alice: User, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    client = api(alice)
    with django_assert_max_num_queries(3) as few:
        assert client.get(url()).status_code == 200

    for n in range(12):
        organisation = OrganisationFactory.create(domains=[f"d{n}.example", f"e{n}.example"])
        MembershipFactory.create(user=alice, organisation=organisation)
    with django_assert_max_num_queries(3) as many:
        assert client.get(url()).json()["count"] == 13

    assert len(many) == len(few)
