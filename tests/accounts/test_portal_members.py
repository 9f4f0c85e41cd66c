"""Members page: owners and admins change roles and remove members; members may leave."""

from django.urls import reverse

from accounts.models import Membership, MembershipRole
from tests.pages import page_text


def members_url(organisation) -> str:
    return reverse("portal:member_list", args=[organisation.pk])


def role_url(organisation, membership) -> str:
    return reverse("portal:member_role", args=[organisation.pk, membership.pk])


def remove_url(organisation, membership) -> str:
    return reverse("portal:member_remove", args=[organisation.pk, membership.pk])


def test_owner_sees_members_with_role_and_remove_forms(login, alice, dave, alice_org):
    response = login(alice).get(members_url(alice_org))

    text = page_text(response)
    assert "alice@uio.no" in text
    assert "dave@uio.no" in text
    assert "Change role" in text
    assert "Remove dave@uio.no" in text


def test_plain_member_sees_members_without_manage_forms(login, alice, dave, alice_org):
    text = page_text(login(dave).get(members_url(alice_org)))

    assert "alice@uio.no" in text
    assert "Change role" not in text
    assert "Leave" in text


def test_owner_makes_a_member_admin(login, alice, dave, alice_org):
    membership = Membership.objects.get(user=dave)

    response = login(alice).post(role_url(alice_org, membership), {"role": "admin"}, follow=True)

    membership.refresh_from_db()
    assert membership.role == MembershipRole.ADMIN
    assert "dave@uio.no is now Admin." in page_text(response)


def test_last_owner_cannot_step_down(login, alice, alice_org):
    membership = Membership.objects.get(user=alice)

    response = login(alice).post(role_url(alice_org, membership), {"role": "member"}, follow=True)

    membership.refresh_from_db()
    assert membership.role == MembershipRole.OWNER
    assert "An organisation must keep at least one owner." in page_text(response)


def test_unknown_role_is_refused(login, alice, dave, alice_org):
    membership = Membership.objects.get(user=dave)

    response = login(alice).post(role_url(alice_org, membership), {"role": "king"}, follow=True)

    membership.refresh_from_db()
    assert membership.role == MembershipRole.MEMBER
    assert "Choose one of the roles offered." in page_text(response)


def test_plain_member_cannot_change_roles(login, alice, dave, alice_org):
    membership = Membership.objects.get(user=alice)

    response = login(dave).post(role_url(alice_org, membership), {"role": "member"}, follow=True)

    membership.refresh_from_db()
    assert membership.role == MembershipRole.OWNER
    assert "Only owners and admins change roles." in page_text(response)


def test_owner_removes_a_member(login, alice, dave, alice_org):
    membership = Membership.objects.get(user=dave)

    response = login(alice).post(remove_url(alice_org, membership), follow=True)

    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert "dave@uio.no was removed." in page_text(response)


def test_member_leaves(login, dave, alice_org):
    membership = Membership.objects.get(user=dave)

    response = login(dave).post(remove_url(alice_org, membership))

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:organisation_list")
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_role_and_remove_forms_only_accept_post(login, alice, dave, alice_org):
    membership = Membership.objects.get(user=dave)
    client = login(alice)

    assert client.get(role_url(alice_org, membership)).status_code == 405
    assert client.get(remove_url(alice_org, membership)).status_code == 405


def test_charlie_gets_404_changing_alices_members(login, alice, charlie, dave, alice_org):
    membership = Membership.objects.get(user=dave)
    client = login(charlie)

    assert client.post(role_url(alice_org, membership), {"role": "owner"}).status_code == 404
    assert client.post(remove_url(alice_org, membership)).status_code == 404
    membership.refresh_from_db()
    assert membership.role == MembershipRole.MEMBER
