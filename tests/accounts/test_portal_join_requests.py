"""The directory of verified organisations, requests to join, and admins' decisions."""

from django.urls import reverse

from accounts.models import JoinRequest, JoinRequestState, Membership, MembershipRole
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.pages import form_errors, page_text

DIRECTORY_URL = reverse("portal:directory")


def join_url(organisation) -> str:
    return reverse("portal:join_request_create", args=[organisation.pk])


def decide_url(join_request) -> str:
    return reverse(
        "portal:join_request_decide", args=[join_request.organisation_id, join_request.pk]
    )


def test_directory_lists_verified_organisations_only(login, alice, charlie):
    OrganisationFactory(name="Secret Pending Lab", pending=True)

    text = page_text(login(charlie).get(DIRECTORY_URL))

    assert "University of Oslo" in text
    assert "Request to join University of Oslo" in text
    assert "Secret Pending Lab" not in text


def test_directory_search_filters_by_name(login, alice, bob, charlie):
    text = page_text(login(charlie).get(DIRECTORY_URL, {"q": "fjord"}))

    assert "Fjord AI AS" in text
    assert "University of Oslo" not in text


def test_directory_search_without_match_says_what_to_do(login, charlie):
    text = page_text(login(charlie).get(DIRECTORY_URL, {"q": "nothing like this"}))

    assert "No verified organisation matches “nothing like this”." in text
    assert "Register your organisation" in text


def test_directory_answers_htmx_with_the_results_only(login, alice, charlie):
    response = login(charlie).get(DIRECTORY_URL, {"q": "oslo"}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="directory-results"')
    assert "University of Oslo" in body
    assert "<html" not in body


def test_directory_is_paginated(login, charlie):
    for n in range(30):
        OrganisationFactory(name=f"Institute {n:02d}")
    client = login(charlie)

    first, second = client.get(DIRECTORY_URL), client.get(DIRECTORY_URL, {"page": 2})

    # Acme Compute Inc (charlie's, verified) comes first: 25 a page.
    assert "Institute 23" in page_text(first)
    assert "Institute 24" not in page_text(first)
    assert "Institute 24" in page_text(second)
    assert "Page 2 of 2" in page_text(second)


def test_directory_marks_my_own_organisation(login, alice):
    text = page_text(login(alice).get(DIRECTORY_URL))

    assert "You are a member" in text


def test_requesting_to_join_sends_the_request_to_the_admins(login, alice, charlie, alice_org):
    response = login(charlie).post(join_url(alice_org), {"message": "I teach at UiO too."})

    assert response.status_code == 302
    join_request = JoinRequest.objects.get(user=charlie)
    assert join_request.organisation == alice_org
    assert join_request.message == "I teach at UiO too."
    assert join_request.state == JoinRequestState.PENDING


def test_second_pending_request_shows_an_error_and_creates_nothing(login, charlie, alice_org):
    client = login(charlie)
    client.post(join_url(alice_org), {"message": "first"})

    response = client.post(join_url(alice_org), {"message": "second"})

    assert response.status_code == 200
    assert form_errors(response) == [
        "You already have a pending request to join this organisation."
    ]
    assert JoinRequest.objects.filter(user=charlie).count() == 1


def test_member_cannot_ask_to_join_again(login, alice, alice_org):
    response = login(alice).post(join_url(alice_org), {"message": ""})

    assert form_errors(response) == ["You are already a member of this organisation."]
    assert not JoinRequest.objects.exists()


def test_unverified_organisations_cannot_be_joined(login, charlie):
    pending = OrganisationFactory(pending=True)

    assert login(charlie).get(join_url(pending)).status_code == 404


def test_admin_sees_pending_requests_with_message(login, alice, charlie, alice_org):
    JoinRequest.objects.create(user=charlie, organisation=alice_org, message="Let me in")

    text = page_text(login(alice).get(reverse("portal:join_request_list", args=[alice_org.pk])))

    assert "charlie@acme.example" in text
    assert "Let me in" in text
    assert "Approve charlie@acme.example" in text


def test_admin_approves_a_request_and_the_person_becomes_a_member(login, alice, charlie, alice_org):
    join_request = JoinRequest.objects.create(user=charlie, organisation=alice_org)

    response = login(alice).post(decide_url(join_request), {"decision": "approve"}, follow=True)

    join_request.refresh_from_db()
    assert join_request.state == JoinRequestState.APPROVED
    assert (
        Membership.objects.get(user=charlie, organisation=alice_org).role == MembershipRole.MEMBER
    )
    assert "charlie@acme.example is now a member." in page_text(response)


def test_admin_denies_a_request(login, alice, charlie, alice_org):
    join_request = JoinRequest.objects.create(user=charlie, organisation=alice_org)

    response = login(alice).post(decide_url(join_request), {"decision": "deny"}, follow=True)

    join_request.refresh_from_db()
    assert join_request.state == JoinRequestState.DENIED
    assert not Membership.objects.filter(user=charlie, organisation=alice_org).exists()
    assert "Denied" in page_text(response)


def test_deciding_twice_shows_an_error(login, alice, charlie, alice_org):
    join_request = JoinRequest.objects.create(user=charlie, organisation=alice_org)
    client = login(alice)
    client.post(decide_url(join_request), {"decision": "deny"})

    response = client.post(decide_url(join_request), {"decision": "approve"}, follow=True)

    assert "This request has already been decided." in page_text(response)
    assert not Membership.objects.filter(user=charlie, organisation=alice_org).exists()


def test_plain_member_cannot_see_or_decide_requests(login, dave, charlie, alice_org):
    join_request = JoinRequest.objects.create(user=charlie, organisation=alice_org)
    client = login(dave)

    assert client.get(reverse("portal:join_request_list", args=[alice_org.pk])).status_code == 403
    client.post(decide_url(join_request), {"decision": "approve"})
    join_request.refresh_from_db()
    assert join_request.state == JoinRequestState.PENDING


def test_charlie_gets_404_deciding_on_alices_requests(login, alice, charlie, alice_org):
    join_request = JoinRequest.objects.create(user=UserFactory(), organisation=alice_org)

    response = login(charlie).post(decide_url(join_request), {"decision": "approve"})

    assert response.status_code == 404
    join_request.refresh_from_db()
    assert join_request.state == JoinRequestState.PENDING


def test_request_id_of_another_organisation_is_404(login, alice, bob_org, alice_org):
    other_admin = UserFactory()
    MembershipFactory(user=other_admin, organisation=bob_org, role=MembershipRole.OWNER)
    MembershipFactory(user=other_admin, organisation=alice_org, role=MembershipRole.ADMIN)
    join_request = JoinRequest.objects.create(user=UserFactory(), organisation=bob_org)
    url = reverse("portal:join_request_decide", args=[alice_org.pk, join_request.pk])

    assert login(other_admin).post(url, {"decision": "approve"}).status_code == 404
