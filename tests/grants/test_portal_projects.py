"""Projects: balances per GPU type, the usage chart, the ledger, members and invitations."""

import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from booking.grants.portal.views import projects as projects_views
from booking.grants.services.projects import project_invite
from booking.ledger.services import ledger_charge, ledger_hold
from booking.models import GpuType, ProjectInvitation, ProjectMember, ProjectRole
from tests.factories import AllocationFactory, ProjectFactory, UserFactory
from tests.pages import field_errors, form_errors, page_text

LIST_URL = reverse("grants:project_list")


def project_url(project, name: str = "project_detail") -> str:
    return reverse(f"grants:{name}", args=[project.pk])


def charge(project, hours: int, key: str) -> None:
    ledger_charge(
        project=project,
        gpu_type=GpuType.objects.get(name="H100"),
        gpu_hours=Decimal(hours),
        key=key,
    )


def test_my_projects_list_shows_each_with_available_hours(login, alice, project):
    text = page_text(login(alice).get(LIST_URL))

    assert "NorLLM University of Oslo Tier 1 · European academic Active H100: 4,000" in text


def test_empty_project_list_says_how_projects_come_about(login, bob):
    text = page_text(login(bob).get(LIST_URL))

    assert "You are not in any project yet." in text
    assert "apply to an open call" in text


def test_project_page_shows_balances_per_gpu_type(login, alice, project):
    ledger_hold(
        project=project,
        gpu_type=GpuType.objects.get(name="H100"),
        gpu_hours=Decimal(100),
        key="job-1-hold",
    )
    charge(project, 250, "job-0-charge")

    text = page_text(login(alice).get(project_url(project)))

    assert "H100 4,000 100 250 3,650" in text
    assert "your role: Principal investigator" in text


def test_usage_chart_is_inline_svg_with_a_line_per_gpu_type(login, alice, project):
    today = timezone.now()
    with time_machine.travel(today - timedelta(days=3)):
        charge(project, 100, "day-1")
    charge(project, 300, "day-4")

    response = login(alice).get(project_url(project))

    body = response.content.decode()
    assert '<svg viewBox="0 0 720 260" role="img"' in body
    assert body.count("<polyline") == 1
    assert "H100: 400 GPU-hours charged" in page_text(response)
    assert "<script" not in body.split("<main", 1)[1]


def test_usage_chart_has_an_empty_state_before_anything_is_charged(login, alice, project):
    text = page_text(login(alice).get(project_url(project)))

    assert "Nothing charged yet." in text


def test_ledger_filters_by_type_and_links_the_csv_export(login, alice, project):
    charge(project, 250, "job-0-charge")
    client = login(alice)

    all_entries = page_text(client.get(project_url(project, "project_ledger")))
    charges = client.get(project_url(project, "project_ledger"), {"kind": "charge"})

    assert "Grant H100 4,000 Award" in all_entries
    assert "Charge H100 250" in all_entries
    assert "Grant H100" not in page_text(charges)
    assert f'href="/api/v1/projects/{project.pk}/ledger/export/?kind=charge"' in (
        charges.content.decode()
    )


def test_a_long_ledger_is_counted_only_so_far_and_its_pages_still_follow(
    login, alice, project, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(projects_views, "LEDGER_COUNT_MAX", 60)
    for n in range(80):
        charge(project, 1, f"job-{n}-charge")  # with the grant: 81 entries, newest first
    client = login(alice)

    with django_assert_max_num_queries(8):
        first = page_text(client.get(project_url(project, "project_ledger")))
    # Pages 1-3 hold the 61 rows counted; past them the Next links carry a cursor.
    third = client.get(project_url(project, "project_ledger"), {"page": 3})
    link = re.search(r'href="([^"]+)" rel="next"', third.content.decode())
    assert link is not None
    assert "cursor=" in link.group(1)
    last = page_text(client.get(project_url(project, "project_ledger") + unescape(link.group(1))))

    assert "Page 1 of more than 2" in first
    assert "Grant H100" not in first
    # Past the 61 rows counted, the pages go on to the end of the ledger: the grant, oldest.
    assert "Page 4 of more than 2" in last
    assert "Grant H100 4,000 Award" in last
    assert "Next" not in last
    assert "Previous" in last


def test_csv_export_link_works_for_the_member(login, alice, project):
    response = login(alice).get(f"/api/v1/projects/{project.pk}/ledger/export/")

    assert response.status_code == 200
    assert b"grant,H100,4000" in b"".join(response.streaming_content)


def test_pi_invites_a_member_by_email_with_a_role(login, alice, project):
    response = login(alice).post(
        project_url(project, "project_members"),
        {"email": "Erik.Two@uio.no", "role": "manager"},
        follow=True,
    )

    invitation = ProjectInvitation.objects.get(email="erik.two@uio.no")
    assert invitation.role == ProjectRole.MANAGER
    text = page_text(response)
    assert "erik.two@uio.no is invited by e-mail." in text
    assert "erik.two@uio.no · Manager" in text


def test_inviting_an_existing_member_shows_the_error_next_to_the_email(login, alice, project):
    response = login(alice).post(
        project_url(project, "project_members"), {"email": "alice@uio.no", "role": "member"}
    )

    assert field_errors(response, "email") == ["alice@uio.no is already a member."]


def test_invitee_accepts_and_becomes_a_member(login, alice, project, dave):
    invitation = project_invite(project=project, actor=alice, email="dave@uio.no", role="member")
    client = login(dave)

    assert "NorLLM (University of Oslo) invites you as Member." in page_text(
        client.get(reverse("grants:invitation_detail", args=[invitation.pk]))
    )
    response = client.post(reverse("grants:invitation_accept", args=[invitation.pk]), follow=True)

    assert ProjectMember.objects.filter(project=project, user=dave).exists()
    assert "You joined NorLLM as Member." in page_text(response)


def test_an_invitation_for_someone_else_is_404(login, alice, project, charlie):
    invitation = project_invite(project=project, actor=alice, email="dave@uio.no", role="member")

    response = login(charlie).post(reverse("grants:invitation_accept", args=[invitation.pk]))

    assert response.status_code == 404
    assert not ProjectMember.objects.filter(user=charlie).exists()


def test_pi_changes_a_role_and_removes_a_member(login, alice, project, dave):
    member = ProjectMember.objects.create(project=project, user=dave, role=ProjectRole.MEMBER)
    client = login(alice)

    client.post(reverse("grants:member_role", args=[project.pk, member.pk]), {"role": "manager"})
    member.refresh_from_db()
    assert member.role == ProjectRole.MANAGER

    response = client.post(
        reverse("grants:member_remove", args=[project.pk, member.pk]), follow=True
    )
    assert not ProjectMember.objects.filter(pk=member.pk).exists()
    assert "dave@uio.no was removed." in page_text(response)


def test_the_last_pi_cannot_step_down(login, alice, project):
    member = ProjectMember.objects.get(project=project, user=alice)

    response = login(alice).post(
        reverse("grants:member_role", args=[project.pk, member.pk]), {"role": "member"}, follow=True
    )

    member.refresh_from_db()
    assert member.role == ProjectRole.PI
    assert "A project must keep a PI." in page_text(response)


def test_plain_members_see_members_without_manage_forms(login, project, dave):
    ProjectMember.objects.create(project=project, user=dave, role=ProjectRole.MEMBER)

    text = page_text(login(dave).get(project_url(project, "project_members")))

    assert "alice@uio.no" in text
    assert "Change role" not in text
    assert "Invite someone" not in text
    assert "Leave" in text


def test_plain_member_cannot_remove_the_pi(login, alice, project, dave):
    ProjectMember.objects.create(project=project, user=dave, role=ProjectRole.MEMBER)
    pi = ProjectMember.objects.get(project=project, user=alice)

    response = login(dave).post(
        reverse("grants:member_remove", args=[project.pk, pi.pk]), follow=True
    )

    assert ProjectMember.objects.filter(pk=pi.pk).exists()
    assert "Only the PI and managers remove members." in page_text(response)


@pytest.mark.parametrize("name", ["project_detail", "project_ledger", "project_members"])
def test_charlie_gets_404_on_alices_project_pages(login, charlie, project, name):
    assert login(charlie).get(project_url(project, name)).status_code == 404


def test_charlie_cannot_invite_into_alices_project(login, charlie, project):
    response = login(charlie).post(
        project_url(project, "project_members"), {"email": "mallory@acme.example", "role": "pi"}
    )

    assert response.status_code == 404
    assert not ProjectInvitation.objects.filter(email="mallory@acme.example").exists()


def test_my_invitations_are_listed_with_an_accept_button(login, alice, project, dave):
    project_invite(project=project, actor=alice, email="dave@uio.no", role="manager")

    text = page_text(login(dave).get(reverse("grants:invitation_list")))

    assert "NorLLM (University of Oslo) invites you as Manager." in text
    assert "Accept the invitation to NorLLM" in text
    assert "You have an invitation to a project." in page_text(login(dave).get(LIST_URL))


def test_unknown_role_is_refused(login, alice, project, dave):
    member = ProjectMember.objects.create(project=project, user=dave, role=ProjectRole.MEMBER)

    response = login(alice).post(
        reverse("grants:member_role", args=[project.pk, member.pk]), {"role": "king"}, follow=True
    )

    assert "Choose one of the roles offered." in page_text(response)
    member.refresh_from_db()
    assert member.role == ProjectRole.MEMBER
    assert form_errors(response) == []


@pytest.mark.parametrize("count", [1, 15])
def test_my_projects_query_count_does_not_grow(
    login, alice, alice_org, django_assert_max_num_queries, count, db
):
    for i in range(count):
        project = ProjectFactory(organisation=alice_org)
        ProjectMember.objects.create(project=project, user=alice, role=ProjectRole.PI)
        allocation = AllocationFactory(project=project)
        charge_key = f"grant-{i}"
        from booking.ledger.services import ledger_grant

        ledger_grant(
            project=project, gpu_type=allocation.gpu_type, gpu_hours=Decimal(10), key=charge_key
        )
    client = login(alice)

    # The page's balances: its allocations, their checkpoints, the entries after them.
    with django_assert_max_num_queries(8):
        response = client.get(LIST_URL)

    assert response.status_code == 200
    assert page_text(response).count("H100: 10") == count


def test_someone_else_in_the_organisation_does_not_see_the_project(login, project):
    outsider = UserFactory(email="sigrid@uio.no")

    assert login(outsider).get(project_url(project)).status_code == 404
