"""Every e-mail the grant features send links to the portal by its full address (SITE_URL).

An e-mail has no host to resolve "/projects/12/" on; the in-portal notification keeps the
relative path, which the portal follows itself.
"""

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User
from booking.grants.services.applications import application_submit
from booking.grants.services.decisions import application_reject
from booking.grants.services.projects import project_invite, project_set_state
from booking.grants.services.reviews import reviewer_assign
from booking.ledger.services import ledger_charge, ledger_grant
from booking.models import Application, Call, Notification, Project, ProjectMember, ProjectRole
from tests.factories import AllocationFactory
from tests.fixtures.grants import draft_for

pytestmark = pytest.mark.django_db
SITE = "https://portal.example"
Capture = Callable[..., Any]


@pytest.fixture(autouse=True)
def site_url(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SITE_URL = SITE


@pytest.fixture
def project(alice: User) -> Project:
    allocation = AllocationFactory(project__organisation=alice.memberships.get().organisation)
    ProjectMember.objects.create(project=allocation.project, user=alice, role=ProjectRole.PI)
    ledger_grant(
        project=allocation.project,
        gpu_type=allocation.gpu_type,
        gpu_hours=Decimal(100),
        key="grant",
    )
    return allocation.project


def _only_absolute_links(body: str) -> None:
    """No path stands alone in the text: every link starts with the site's address."""
    assert not re.search(r"(?<![\w/.:])/(projects|applications|reviews|invitations)/", body), body


def test_submitting_e_mails_the_application_by_its_full_address(
    alice: User, call: Call, django_capture_on_commit_callbacks: Capture
) -> None:
    draft = draft_for(alice, call)

    with django_capture_on_commit_callbacks(execute=True):
        application_submit(application=draft, user=alice)

    path = reverse("grants:application_detail", args=[draft.pk])
    assert path == f"/applications/{draft.pk}/"
    body = mail.outbox[-1].body
    assert f"{SITE}{path}" in body
    _only_absolute_links(body)
    assert Notification.objects.get(user=alice).url == path


def test_a_review_assignment_e_mail_links_to_the_review(
    submitted: Application,
    reviewer: User,
    staff: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assignment = reviewer_assign(application=submitted, reviewer=reviewer, staff=staff)

    message = mail.outbox[-1]
    assert message.to == [reviewer.email]
    assert f"{SITE}/reviews/{assignment.pk}/" in message.body
    _only_absolute_links(message.body)


def test_a_decision_e_mail_links_to_the_application(
    submitted: Application, staff: User, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        application_reject(application=submitted, staff=staff, reason="Out of scope.")

    message = mail.outbox[-1]
    assert message.to == ["alice@uio.no"]
    assert f"{SITE}/applications/{submitted.pk}/" in message.body
    _only_absolute_links(message.body)


def test_an_invitation_e_mail_links_to_the_invitation(
    project: Project, alice: User, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        invitation = project_invite(
            project=project, actor=alice, email="erik@uio.no", role=ProjectRole.MEMBER
        )

    message = mail.outbox[-1]
    assert message.to == ["erik@uio.no"]
    assert f"{SITE}/invitations/{invitation.pk}/" in message.body
    assert "Sign up with this e-mail address first." in message.body
    _only_absolute_links(message.body)


def test_a_suspension_e_mail_links_to_the_project(
    project: Project, alice: User, staff: User, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        project_set_state(project=project, staff=staff, state="suspended", reason="Audit")

    message = mail.outbox[-1]
    assert message.to == [alice.email]
    assert f"{SITE}/projects/{project.pk}/" in message.body
    _only_absolute_links(message.body)
    assert Notification.objects.get(user=alice).url == f"/projects/{project.pk}/"


def test_a_low_balance_e_mail_links_to_the_project(
    project: Project, alice: User, django_capture_on_commit_callbacks: Capture
) -> None:
    gpu_type = project.allocations.get().gpu_type

    with django_capture_on_commit_callbacks(execute=True):
        ledger_charge(project=project, gpu_type=gpu_type, gpu_hours=Decimal(95), key="c1")

    (message,) = [m for m in mail.outbox if m.subject.startswith("Low balance")]
    assert f"{SITE}/projects/{project.pk}/" in message.body
    _only_absolute_links(message.body)
