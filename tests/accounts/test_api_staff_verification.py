"""/api/v1/staff/organisations/: staff see the evidence and decide on verification."""

from collections.abc import Callable

import pytest
from pytest_django import DjangoAssertNumQueries
from rest_framework.test import APIClient

from accounts.models import Organisation, User, VerificationDecision
from tests.error_shape import assert_error
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

Api = Callable[[User | None], APIClient]
URL = "/api/v1/staff/organisations/"


@pytest.fixture
def ntnu(db: None) -> Organisation:
    organisation = OrganisationFactory.create(
        name="NTNU",
        pending=True,
        country="NO",
        registration_number="974767880",
        website="https://www.ntnu.no",
        domains=["ntnu.no"],
    )
    MembershipFactory.create(
        organisation=organisation, user=UserFactory.create(email="rektor@ntnu.no"), role="owner"
    )
    return organisation


def verification_url(organisation: Organisation) -> str:
    return f"{URL}{organisation.pk}/verification/"


def test_staff_see_the_evidence_of_a_pending_organisation(
    api: Api, staff: User, ntnu: Organisation
) -> None:
    body = api(staff).get(f"{URL}{ntnu.pk}/").json()

    assert body["name"] == "NTNU"
    assert body["verification_state"] == "pending"
    assert body["evidence"] == {
        "registration_number": "974767880",
        "registration_check": "valid NO orgnr",
        "registration_valid": True,
        "email_domains": ["ntnu.no"],
        "owner_emails": ["rektor@ntnu.no"],
        "owner_domain_matches": True,
        "website_matches_domain": True,
        "country": "NO",
        "country_in_region": True,
        "age_years": body["evidence"]["age_years"],
        "tier_if_verified": 1,
    }


def test_staff_list_every_organisation_and_filter_the_pending_ones(
    api: Api, staff: User, ntnu: Organisation, alice: User, charlie: User
) -> None:
    everything = api(staff).get(URL).json()
    pending = api(staff).get(f"{URL}?verification_state=pending").json()

    assert everything["count"] == 3
    assert [o["name"] for o in pending["results"]] == ["NTNU"]


def test_staff_verify_an_organisation_with_a_reason(
    api: Api, staff: User, ntnu: Organisation
) -> None:
    response = api(staff).post(
        verification_url(ntnu), {"decision": "verified", "reason": "Brønnøysund ok"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["verification_state"] == "verified"
    assert body["verification_reason"] == "Brønnøysund ok"
    assert body["verification_decided_at"] is not None
    assert body["priority_tier"]["value"] == 1
    decision = VerificationDecision.objects.get(organisation=ntnu)
    assert (decision.decision, decision.decided_by) == ("verified", staff)


def test_staff_reject_an_organisation(api: Api, staff: User, ntnu: Organisation) -> None:
    response = api(staff).post(verification_url(ntnu), {"decision": "rejected", "reason": "Fake"})

    assert response.json()["verification_state"] == "rejected"
    assert response.json()["priority_tier"]["value"] == 4


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"decision": "verified", "reason": ""}, ["reason"]),
        ({"decision": "verified", "reason": "   "}, ["reason"]),
        ({"decision": "maybe", "reason": "Hm"}, ["decision"]),
        ({}, ["decision", "reason"]),
    ],
)
def test_a_decision_needs_a_known_decision_and_a_reason(
    api: Api, staff: User, ntnu: Organisation, payload: dict[str, str], fields: list[str]
) -> None:
    body = assert_error(api(staff).post(verification_url(ntnu), payload), 400, "invalid")

    assert sorted(body["details"]) == fields
    assert not VerificationDecision.objects.exists()


def test_verifying_a_verified_organisation_is_a_409(
    api: Api, staff: User, alice_org: Organisation
) -> None:
    response = api(staff).post(verification_url(alice_org), {"decision": "verified", "reason": "x"})

    assert_error(response, 409, "already_decided")


def test_verifying_is_a_409_when_a_verified_organisation_claims_its_domain(
    api: Api, staff: User, alice_org: Organisation
) -> None:
    copycat = OrganisationFactory.create(name="UiO copy", pending=True, domains=["uio.no"])

    response = api(staff).post(verification_url(copycat), {"decision": "verified", "reason": "x"})

    body = assert_error(response, 409, "domain_claimed")
    assert body["details"] == {"email_domains": ["uio.no"]}


def test_verification_adds_confirmed_users_of_the_domain_as_members(
    api: Api, staff: User, ntnu: Organisation
) -> None:
    kari = UserFactory.create(email="kari@ntnu.no")

    api(staff).post(verification_url(ntnu), {"decision": "verified", "reason": "ok"})

    assert kari.memberships.get().organisation == ntnu


@pytest.mark.parametrize("persona", ["alice", "charlie"])
def test_non_staff_get_403_from_the_staff_endpoints(
    api: Api, request: pytest.FixtureRequest, ntnu: Organisation, persona: str
) -> None:
    client = api(request.getfixturevalue(persona))

    assert_error(client.get(URL), 403, "permission_denied")
    assert_error(client.get(f"{URL}{ntnu.pk}/"), 403, "permission_denied")
    assert_error(
        client.post(verification_url(ntnu), {"decision": "verified", "reason": "me"}),
        403,
        "permission_denied",
    )
    ntnu.refresh_from_db()
    assert ntnu.verification_state == "pending"


def test_anonymous_visitors_get_401_from_the_staff_endpoints(api: Api, ntnu: Organisation) -> None:
    assert_error(api(None).get(URL), 401, "not_authenticated")


def test_staff_get_404_for_an_organisation_that_does_not_exist(api: Api, staff: User) -> None:
    assert_error(api(staff).get(f"{URL}987654/"), 404, "not_found")


def test_the_staff_list_costs_the_same_queries_for_more_organisations(
    api: Api, staff: User, ntnu: Organisation, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    client = api(staff)
    with django_assert_max_num_queries(4) as few:
        assert client.get(URL).status_code == 200

    for n in range(10):
        organisation = OrganisationFactory.create(pending=True, domains=[f"o{n}.example"])
        MembershipFactory.create_batch(2, organisation=organisation, role="owner")
    with django_assert_max_num_queries(4) as many:
        assert client.get(URL).json()["count"] == 11

    assert len(many) == len(few)
