"""The dashboard: my organisations with role, state and tier, join requests, what to do next."""

import pytest
from django.urls import reverse

from accounts.models import JoinRequest, MembershipRole
from accounts.services.tokens import api_token_create
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.pages import page_text

URL = reverse("portal:dashboard")


def test_anonymous_visitor_is_sent_to_log_in(client, db):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_verified_european_university_member_sees_tier_1(login, alice):
    text = page_text(login(alice).get(URL))

    assert "Your priority tier: Tier 1 · European academic" in text
    assert "University of Oslo" in text
    assert "Owner" in text
    assert "Verified" in text


def test_startup_founder_sees_tier_2(login, bob):
    text = page_text(login(bob).get(URL))

    assert "Tier 2 · European startup" in text


def test_newcomer_is_told_to_register_or_join_an_organisation(login, db):
    newcomer = UserFactory(email="eve@example.org")

    text = page_text(login(newcomer).get(URL))

    assert "You are not in any organisation yet." in text
    assert "Register your organisation" in text
    assert "ask to join one" in text
    assert "Tier 4 · International or unverified" in text


def test_owner_of_a_pending_organisation_is_told_it_awaits_verification(login, db):
    owner = UserFactory()
    pending = OrganisationFactory(name="Tromsø Robotics", pending=True)
    MembershipFactory(user=owner, organisation=pending, role=MembershipRole.OWNER)

    text = page_text(login(owner).get(URL))

    assert "Tromsø Robotics awaits verification by Stargate staff." in text
    assert "Pending verification" in text


def test_dashboard_suggests_an_api_token_until_there_is_one(login, alice):
    client = login(alice)
    assert "Create an API token" in page_text(client.get(URL))

    api_token_create(user=alice, name="laptop")

    assert "Create an API token" not in page_text(client.get(URL))


def test_dashboard_lists_my_pending_requests_and_those_waiting_for_my_decision(
    login, alice, bob, bob_org
):
    JoinRequest.objects.create(user=alice, organisation=bob_org, message="Hi")
    newcomer = UserFactory(email="frida@uio.no")
    JoinRequest.objects.create(user=newcomer, organisation=alice.memberships.get().organisation)

    text = page_text(login(alice).get(URL))

    assert "To Fjord AI AS" in text
    assert "frida@uio.no wants to join University of Oslo" in text


def test_plain_members_are_not_asked_to_decide_join_requests(login, dave, alice_org):
    JoinRequest.objects.create(user=UserFactory(email="gro@uio.no"), organisation=alice_org)

    text = page_text(login(dave).get(URL))

    assert "gro@uio.no" not in text
    assert "No one is waiting for your decision." in text


@pytest.mark.parametrize("organisation_count", [1, 30])
def test_dashboard_query_count_does_not_grow_with_organisations(
    login, django_assert_max_num_queries, organisation_count, db
):
    user = UserFactory()
    for _ in range(organisation_count):
        organisation = OrganisationFactory(domains=["example.org"])
        MembershipFactory(user=user, organisation=organisation, role=MembershipRole.OWNER)
        JoinRequest.objects.create(user=UserFactory(), organisation=organisation)
    client = login(user)

    with django_assert_max_num_queries(9):
        response = client.get(URL)

    assert response.status_code == 200
