"""/api/v1/organisations/{id}/members/: list members, change roles, remove or leave."""

from collections.abc import Callable

import pytest
from pytest_django import DjangoAssertNumQueries
from rest_framework.test import APIClient

from accounts.models import Membership, MembershipRole, Organisation, User
from tests.error_shape import assert_error
from tests.factories import MembershipFactory, UserFactory

Api = Callable[[User | None], APIClient]


def members_url(organisation: Organisation) -> str:
    return f"/api/v1/organisations/{organisation.pk}/members/"


def member_url(membership: Membership) -> str:
    return f"/api/v1/organisations/{membership.organisation_id}/members/{membership.pk}/"


def own_membership(user: User, organisation: Organisation) -> Membership:
    return Membership.objects.get(user=user, organisation=organisation)


def test_a_member_lists_the_members_of_her_organisation(
    api: Api, alice: User, dave: User, alice_org: Organisation, bob: User
) -> None:
    body = api(dave).get(members_url(alice_org)).json()

    assert body["count"] == 2
    assert [(m["email"], m["role"]) for m in body["results"]] == [
        ("alice@uio.no", "owner"),
        ("dave@uio.no", "member"),
    ]
    assert set(body["results"][0]) == {"id", "email", "full_name", "role", "created_at"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [("role=owner", ["alice@uio.no"]), ("email=DAVE", ["dave@uio.no"]), ("role=admin", [])],
)
def test_members_can_be_filtered_by_role_and_email(
    api: Api, alice: User, dave: User, alice_org: Organisation, query: str, expected: list[str]
) -> None:
    body = api(alice).get(f"{members_url(alice_org)}?{query}").json()

    assert [m["email"] for m in body["results"]] == expected


def test_members_are_paginated(api: Api, alice: User, dave: User, alice_org: Organisation) -> None:
    body = api(alice).get(f"{members_url(alice_org)}?page_size=1&page=2").json()

    assert body["count"] == 2
    assert [m["email"] for m in body["results"]] == ["dave@uio.no"]
    assert body["next"] is None
    assert body["previous"] is not None


def test_an_owner_promotes_a_member_to_admin(
    api: Api, alice: User, dave: User, alice_org: Organisation
) -> None:
    membership = own_membership(dave, alice_org)

    response = api(alice).patch(member_url(membership), {"role": "admin"})

    assert response.status_code == 200, response.content
    assert response.json()["email"] == "dave@uio.no"
    assert response.json()["role"] == "admin"
    membership.refresh_from_db()
    assert membership.role == MembershipRole.ADMIN


def test_an_unknown_role_is_a_400(
    api: Api, alice: User, dave: User, alice_org: Organisation
) -> None:
    body = assert_error(
        api(alice).patch(member_url(own_membership(dave, alice_org)), {"role": "emperor"}),
        400,
        "invalid",
    )

    assert list(body["details"]) == ["role"]


def test_a_plain_member_cannot_change_roles(
    api: Api, alice: User, dave: User, alice_org: Organisation
) -> None:
    response = api(dave).patch(member_url(own_membership(dave, alice_org)), {"role": "owner"})

    assert_error(response, 403, "permission_denied")
    assert own_membership(dave, alice_org).role == MembershipRole.MEMBER


def test_the_last_owner_cannot_step_down_through_the_api(
    api: Api, alice: User, alice_org: Organisation
) -> None:
    membership = own_membership(alice, alice_org)

    demote = api(alice).patch(member_url(membership), {"role": "member"})
    leave = api(alice).delete(member_url(membership))

    assert_error(demote, 409, "last_owner")
    assert_error(leave, 409, "last_owner")
    assert own_membership(alice, alice_org).role == MembershipRole.OWNER


def test_an_owner_removes_a_member(
    api: Api, alice: User, dave: User, alice_org: Organisation
) -> None:
    response = api(alice).delete(member_url(own_membership(dave, alice_org)))

    assert response.status_code == 204
    assert not Membership.objects.filter(user=dave).exists()


def test_a_member_leaves_but_cannot_remove_others(
    api: Api, alice: User, dave: User, alice_org: Organisation
) -> None:
    assert_error(
        api(dave).delete(member_url(own_membership(alice, alice_org))), 403, "permission_denied"
    )

    assert api(dave).delete(member_url(own_membership(dave, alice_org))).status_code == 204
    assert list(alice_org.memberships.values_list("user__email", flat=True)) == ["alice@uio.no"]


def test_charlie_gets_404_for_alices_members_and_memberships(
    api: Api, charlie: User, alice: User, dave: User, alice_org: Organisation
) -> None:
    membership = own_membership(dave, alice_org)
    client = api(charlie)

    assert_error(client.get(members_url(alice_org)), 404, "not_found")
    assert_error(client.patch(member_url(membership), {"role": "owner"}), 404, "not_found")
    assert_error(client.delete(member_url(membership)), 404, "not_found")
    membership.refresh_from_db()
    assert membership.role == MembershipRole.MEMBER


def test_a_membership_of_another_organisation_is_404_under_mine(
    api: Api, alice: User, alice_org: Organisation, charlie: User, charlie_org: Organisation
) -> None:
    charlies = own_membership(charlie, charlie_org)

    response = api(alice).delete(f"/api/v1/organisations/{alice_org.pk}/members/{charlies.pk}/")

    assert_error(response, 404, "not_found")
    assert Membership.objects.filter(pk=charlies.pk).exists()


def test_listing_members_costs_the_same_queries_for_more_members(
    api: Api,
    alice: User,
    alice_org: Organisation,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    client = api(alice)
    with django_assert_max_num_queries(3) as few:
        assert client.get(members_url(alice_org)).status_code == 200

    for _ in range(15):
        MembershipFactory.create(organisation=alice_org, user=UserFactory.create())
    with django_assert_max_num_queries(3) as many:
        assert client.get(members_url(alice_org)).json()["count"] == 16

    assert len(many) == len(few)
