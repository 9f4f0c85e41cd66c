"""Join requests: ask to join, see mine, and (owners/admins) approve or deny."""

from collections.abc import Callable

import pytest
from pytest_django import DjangoAssertNumQueries
from rest_framework.test import APIClient

from accounts.models import JoinRequest, Membership, Organisation, User
from accounts.services.memberships import join_request_create
from tests.error_shape import assert_error
from tests.factories import OrganisationFactory, UserFactory

Api = Callable[[User | None], APIClient]
URL = "/api/v1/join-requests/"


def org_requests_url(organisation: Organisation) -> str:
    return f"/api/v1/organisations/{organisation.pk}/join-requests/"


@pytest.fixture
def bobs_request(bob: User, alice: User, alice_org: Organisation) -> JoinRequest:
    return join_request_create(user=bob, organisation=alice_org, message="May I join?")


def test_bob_asks_to_join_alices_organisation(
    api: Api, bob: User, alice: User, alice_org: Organisation
) -> None:
    response = api(bob).post(URL, {"organisation": alice_org.pk, "message": "Hello"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["organisation"] == {
        "id": alice_org.pk,
        "name": "University of Oslo",
        "kind": "university",
        "country": "NO",
    }
    assert body["email"] == "bob@fjordai.no"
    assert body["message"] == "Hello"
    assert body["state"] == "pending"
    assert body["decided_at"] is None


def test_a_second_pending_request_is_a_409(
    api: Api, bob: User, alice_org: Organisation, bobs_request: JoinRequest
) -> None:
    response = api(bob).post(URL, {"organisation": alice_org.pk})

    assert_error(response, 409, "join_request_pending")
    assert JoinRequest.objects.count() == 1


def test_a_member_asking_to_join_again_is_a_409(
    api: Api, alice: User, alice_org: Organisation
) -> None:
    assert_error(api(alice).post(URL, {"organisation": alice_org.pk}), 409, "already_member")


def test_a_request_without_an_organisation_is_a_400(api: Api, bob: User) -> None:
    body = assert_error(api(bob).post(URL, {"message": "hi"}), 400, "invalid")

    assert body["details"] == {"organisation": ["This field is required."]}


def test_bob_lists_his_requests_and_filters_them_by_state(
    api: Api, bob: User, bobs_request: JoinRequest, charlie_org: Organisation
) -> None:
    join_request_create(user=bob, organisation=charlie_org)

    everything = api(bob).get(URL).json()
    pending = api(bob).get(f"{URL}?state=pending").json()
    approved = api(bob).get(f"{URL}?state=approved").json()

    assert everything["count"] == 2
    assert pending["count"] == 2
    assert approved["count"] == 0
    assert_error(api(bob).get(f"{URL}?state=maybe"), 400, "invalid")


def test_alice_sees_the_requests_to_her_organisation(
    api: Api, alice: User, alice_org: Organisation, bobs_request: JoinRequest
) -> None:
    body = api(alice).get(org_requests_url(alice_org)).json()

    assert body["count"] == 1
    assert body["results"][0]["email"] == "bob@fjordai.no"
    assert body["results"][0]["message"] == "May I join?"
    assert api(alice).get(f"{org_requests_url(alice_org)}?state=denied").json()["count"] == 0


def test_alice_approves_bob_who_becomes_a_member(
    api: Api, alice: User, bob: User, alice_org: Organisation, bobs_request: JoinRequest
) -> None:
    response = api(alice).post(f"{URL}{bobs_request.pk}/approve/")

    assert response.status_code == 200, response.content
    assert response.json()["state"] == "approved"
    assert response.json()["decided_at"] is not None
    assert Membership.objects.get(user=bob, organisation=alice_org).role == "member"
    assert [o["name"] for o in api(bob).get("/api/v1/me/").json()["organisations"]] == [
        "Fjord AI AS",
        "University of Oslo",
    ]


def test_alice_denies_bob_who_does_not_become_a_member(
    api: Api, alice: User, bob: User, alice_org: Organisation, bobs_request: JoinRequest
) -> None:
    response = api(alice).post(f"{URL}{bobs_request.pk}/deny/")

    assert response.json()["state"] == "denied"
    assert not Membership.objects.filter(user=bob, organisation=alice_org).exists()
    assert_error(api(alice).post(f"{URL}{bobs_request.pk}/approve/"), 409, "already_decided")


def test_a_plain_member_can_neither_see_nor_decide_requests(
    api: Api, dave: User, alice_org: Organisation, bobs_request: JoinRequest
) -> None:
    assert_error(api(dave).get(org_requests_url(alice_org)), 403, "permission_denied")
    assert_error(api(dave).post(f"{URL}{bobs_request.pk}/approve/"), 403, "permission_denied")
    bobs_request.refresh_from_db()
    assert bobs_request.state == "pending"


def test_charlie_gets_404_for_alices_join_requests(
    api: Api, charlie: User, alice_org: Organisation, bobs_request: JoinRequest
) -> None:
    client = api(charlie)

    assert_error(client.get(org_requests_url(alice_org)), 404, "not_found")
    assert_error(client.post(f"{URL}{bobs_request.pk}/approve/"), 404, "not_found")
    assert_error(client.post(f"{URL}{bobs_request.pk}/deny/"), 404, "not_found")
    assert client.get(URL).json()["count"] == 0
    bobs_request.refresh_from_db()
    assert bobs_request.state == "pending"


def test_bob_cannot_approve_his_own_request(api: Api, bob: User, bobs_request: JoinRequest) -> None:
    assert_error(api(bob).post(f"{URL}{bobs_request.pk}/approve/"), 404, "not_found")


def test_listing_join_requests_costs_the_same_queries_for_more_rows(
    api: Api,
    alice: User,
    alice_org: Organisation,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    requester = UserFactory.create()
    join_request_create(user=requester, organisation=alice_org)
    mine, theirs = api(requester), api(alice)
    with django_assert_max_num_queries(2) as mine_few:
        assert mine.get(URL).status_code == 200
    with django_assert_max_num_queries(4) as theirs_few:
        assert theirs.get(org_requests_url(alice_org)).status_code == 200

    for _ in range(10):
        join_request_create(user=requester, organisation=OrganisationFactory.create())
        join_request_create(user=UserFactory.create(), organisation=alice_org)
    with django_assert_max_num_queries(2) as mine_many:
        assert mine.get(URL).json()["count"] == 11
    with django_assert_max_num_queries(4) as theirs_many:
        assert theirs.get(org_requests_url(alice_org)).json()["count"] == 11

    assert len(mine_many) == len(mine_few)
    assert len(theirs_many) == len(theirs_few)
