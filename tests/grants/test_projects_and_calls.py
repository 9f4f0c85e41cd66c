"""Calls (staff), project membership, staff operations and the low-balance notice."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import User
from booking.grants.services.calls import call_close, call_create, call_open, call_update
from booking.grants.services.projects import (
    allocation_extend,
    invitation_accept,
    project_invite,
    project_member_remove,
    project_member_set_role,
    project_set_state,
)
from booking.ledger.selectors import balance_of
from booking.ledger.services import ledger_charge, ledger_grant, ledger_hold
from booking.models import (
    Allocation,
    CallState,
    Notification,
    Project,
    ProjectInvitation,
    ProjectMember,
    ProjectRole,
)
from stargate_portal.errors import Conflict, PermissionDenied, ValidationFailed
from tests.factories import AllocationFactory, CallFactory, GpuTypeFactory, UserFactory

pytestmark = pytest.mark.django_db


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


def _call_fields(**overrides: object) -> dict[str, object]:
    now = timezone.now()
    return {
        "title": "Call",
        "description": "d",
        "opens_at": now,
        "closes_at": now + timedelta(days=10),
        "allowed_tiers": [1, 2],
        "max_request_gpu_hours": Decimal(1000),
        "pools": {"H100": Decimal(5000)},
    } | overrides


def test_staff_create_a_draft_call_with_default_criteria_then_open_and_close_it(
    staff: User,
) -> None:
    GpuTypeFactory(name="H100")
    call = call_create(staff=staff, **_call_fields())  # type: ignore[arg-type]
    assert call.state == CallState.DRAFT
    assert [c.weight for c in call.criteria.all()] == [50, 30, 20]
    assert call_open(call=call, staff=staff).state == CallState.OPEN
    assert call_close(call=call, staff=staff).state == CallState.CLOSED
    with pytest.raises(Conflict):
        call_close(call=call, staff=staff)


def test_call_validation_reports_every_bad_field(staff: User) -> None:
    now = timezone.now()
    bad = _call_fields(
        closes_at=now - timedelta(days=1), allowed_tiers=[0, 5], pools={"Z999": Decimal(1)}
    )
    with pytest.raises(ValidationFailed) as refused:
        call_create(staff=staff, **bad)  # type: ignore[arg-type]
    assert set(refused.value.details) == {"closes_at", "allowed_tiers", "pools"}


def test_rolling_calls_have_a_smaller_cap(staff: User, settings) -> None:  # type: ignore[no-untyped-def]
    GpuTypeFactory(name="H100")
    settings.ROLLING_CALL_MAX_REQUEST_GPU_HOURS = 500
    fields = _call_fields(kind="rolling", closes_at=None, max_request_gpu_hours=Decimal(501))
    with pytest.raises(ValidationFailed) as refused:
        call_create(staff=staff, **fields)  # type: ignore[arg-type]
    assert "max_request_gpu_hours" in refused.value.details


def test_only_staff_manage_calls(alice: User) -> None:
    with pytest.raises(PermissionDenied):
        call_create(staff=alice, **_call_fields())  # type: ignore[arg-type]


def test_a_pool_cannot_shrink_below_what_it_awarded(staff: User) -> None:
    call = CallFactory(pools={"H100": 1000})
    pool = call.pools.get()
    pool.awarded_gpu_hours = Decimal(800)
    pool.save()
    with pytest.raises(ValidationFailed):
        call_update(call=call, staff=staff, pools={"H100": Decimal(700)})
    pool.refresh_from_db()
    assert pool.gpu_hours == Decimal(1000)


def test_invited_person_signs_up_and_accepts(
    project: Project, alice: User, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        invitation = project_invite(
            project=project, actor=alice, email="Erik@UIO.no", role=ProjectRole.MEMBER
        )
    assert mail.outbox[-1].to == ["erik@uio.no"]
    assert "Sign up" in mail.outbox[-1].body
    erik = UserFactory(email="erik@uio.no")
    member = invitation_accept(invitation=invitation, user=erik)
    assert (member.user, member.role) == (erik, ProjectRole.MEMBER)
    with pytest.raises(Conflict):
        invitation_accept(invitation=invitation, user=erik)


def test_an_invitation_for_someone_else_cannot_be_accepted(project: Project, alice: User) -> None:
    invitation = project_invite(project=project, actor=alice, email="erik@uio.no", role="member")
    with pytest.raises(PermissionDenied):
        invitation_accept(invitation=invitation, user=UserFactory(email="mallory@evil.example"))
    assert not ProjectInvitation.objects.filter(accepted_at__isnull=False).exists()


def test_plain_members_cannot_invite_and_the_last_pi_stays(project: Project, alice: User) -> None:
    bob_member = ProjectMember.objects.create(
        project=project, user=UserFactory(), role=ProjectRole.MEMBER
    )
    with pytest.raises(PermissionDenied):
        project_invite(project=project, actor=bob_member.user, email="x@y.eu", role="member")
    pi = ProjectMember.objects.get(project=project, user=alice)
    with pytest.raises(Conflict):
        project_member_set_role(member=pi, actor=alice, role=ProjectRole.MEMBER)
    with pytest.raises(Conflict):
        project_member_remove(member=pi, actor=alice)


def test_suspended_projects_cannot_spend_until_unsuspended(project: Project, staff: User) -> None:
    gpu_type = project.allocations.get().gpu_type
    project_set_state(project=project, staff=staff, state="suspended", reason="Audit")
    with pytest.raises(Conflict) as refused:
        ledger_hold(project=project, gpu_type=gpu_type, gpu_hours=Decimal(1), key="h1")
    assert refused.value.code == "project_suspended"
    project_set_state(project=project, staff=staff, state="active", reason="Cleared")
    ledger_hold(project=project, gpu_type=gpu_type, gpu_hours=Decimal(1), key="h1")
    assert balance_of(project=project, gpu_type=gpu_type).held == Decimal(1)


def test_extending_an_allocation_must_move_its_end_later(project: Project, staff: User) -> None:
    allocation: Allocation = project.allocations.get()
    later = allocation.ends_on + timedelta(days=30)
    extended = allocation_extend(allocation=allocation, staff=staff, ends_on=later, reason="Delay")
    assert extended.ends_on == later
    with pytest.raises(ValidationFailed):
        allocation_extend(allocation=allocation, staff=staff, ends_on=later, reason="Again")


def test_low_balance_is_notified_once_below_ten_percent(
    project: Project, alice: User, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    gpu_type = project.allocations.get().gpu_type
    with django_capture_on_commit_callbacks(execute=True):
        ledger_charge(project=project, gpu_type=gpu_type, gpu_hours=Decimal(85), key="c1")
    assert not Notification.objects.filter(subject__startswith="Low balance").exists()
    with django_capture_on_commit_callbacks(execute=True):
        ledger_charge(project=project, gpu_type=gpu_type, gpu_hours=Decimal(6), key="c2")
        ledger_charge(project=project, gpu_type=gpu_type, gpu_hours=Decimal(1), key="c3")
    low = Notification.objects.filter(user=alice, subject__startswith="Low balance")
    assert low.count() == 1
    assert "8.0000 of 100.0000" in low.get().body


def test_a_low_balance_check_the_broker_lost_is_done_by_the_sweep(
    project: Project,
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> None:  # type: ignore[no-untyped-def]
    from kombu.exceptions import OperationalError

    from booking.ledger import tasks

    def broker_down(**options: object) -> None:
        raise OperationalError("Connection refused.")

    gpu_type = project.allocations.get().gpu_type
    monkeypatch.setattr(tasks.allocation_low_balance_check, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        ledger_charge(project=project, gpu_type=gpu_type, gpu_hours=Decimal(95), key="c1")
    low = Notification.objects.filter(user=alice, subject__startswith="Low balance")
    assert not low.exists()

    assert tasks.allocations_low_balance_sweep() == 1
    assert tasks.allocations_low_balance_sweep() == 0  # once per crossing

    assert low.count() == 1
