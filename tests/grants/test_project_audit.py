"""Staff extensions, suspensions and reactivations leave an audit entry: who, when, what, why.

Top-ups and adjustments are on the ledger; these change no hours, so they have their own trail.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from booking.grants.services.projects import allocation_extend, project_set_state
from booking.ledger.services import ledger_grant
from booking.models import (
    Allocation,
    Project,
    ProjectAuditAction,
    ProjectAuditEntry,
    ProjectMember,
    ProjectRole,
    ProjectState,
)
from stargate_portal.errors import Conflict, PermissionDenied, ValidationFailed
from tests.error_shape import assert_error
from tests.factories import AllocationFactory

pytestmark = pytest.mark.django_db
Api = Callable[[User | None], APIClient]
NOON = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def allocation(alice: User) -> Allocation:
    allocation = AllocationFactory(
        project__organisation=alice.memberships.get().organisation,
        starts_on=date(2027, 1, 1),
        ends_on=date(2027, 6, 30),
    )
    ProjectMember.objects.create(project=allocation.project, user=alice, role=ProjectRole.PI)
    ledger_grant(
        project=allocation.project,
        gpu_type=allocation.gpu_type,
        gpu_hours=Decimal(100),
        key="grant",
    )
    return allocation


@pytest.fixture
def project(allocation: Allocation) -> Project:
    return allocation.project


# Services -----------------------------------------------------------------------------------


def test_extending_records_the_staff_member_the_reason_and_both_end_dates(
    allocation: Allocation, staff: User
) -> None:
    with time_machine.travel(NOON, tick=False):
        allocation_extend(
            allocation=allocation,
            staff=staff,
            ends_on=date(2027, 9, 30),
            reason="  Cluster outage in May.  ",
        )

    entry = ProjectAuditEntry.objects.get()
    assert entry.project == allocation.project
    assert entry.allocation == allocation
    assert entry.action == ProjectAuditAction.ALLOCATION_EXTENDED
    assert entry.actor == staff
    assert entry.reason == "Cluster outage in May."
    assert entry.before == {"ends_on": "2027-06-30"}
    assert entry.after == {"ends_on": "2027-09-30"}
    assert entry.created_at == NOON
    allocation.refresh_from_db()
    assert allocation.ends_on == date(2027, 9, 30)


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_extension_without_a_reason_is_refused_and_writes_nothing(
    allocation: Allocation, staff: User, reason: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        allocation_extend(
            allocation=allocation, staff=staff, ends_on=date(2027, 9, 30), reason=reason
        )

    assert refused.value.details == {"reason": ["Give a reason."]}
    allocation.refresh_from_db()
    assert allocation.ends_on == date(2027, 6, 30)
    assert not ProjectAuditEntry.objects.exists()


def test_an_extension_that_does_not_end_later_writes_no_audit_entry(
    allocation: Allocation, staff: User
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        allocation_extend(
            allocation=allocation, staff=staff, ends_on=date(2027, 6, 30), reason="Typo"
        )

    assert set(refused.value.details) == {"ends_on"}
    assert not ProjectAuditEntry.objects.exists()


def test_only_staff_extend_and_a_refusal_writes_nothing(
    allocation: Allocation, alice: User
) -> None:
    with pytest.raises(PermissionDenied):
        allocation_extend(
            allocation=allocation, staff=alice, ends_on=date(2027, 9, 30), reason="Please"
        )

    allocation.refresh_from_db()
    assert allocation.ends_on == date(2027, 6, 30)
    assert not ProjectAuditEntry.objects.exists()


def test_suspending_and_reactivating_record_who_why_and_the_states(
    project: Project, staff: User
) -> None:
    project_set_state(project=project, staff=staff, state="suspended", reason="Unpaid invoice")
    project_set_state(project=project, staff=staff, state="active", reason="Paid")

    reactivated, suspended = ProjectAuditEntry.objects.filter(project=project)
    assert (suspended.action, suspended.actor, suspended.reason) == (
        ProjectAuditAction.PROJECT_SUSPENDED,
        staff,
        "Unpaid invoice",
    )
    assert (suspended.before, suspended.after) == ({"state": "active"}, {"state": "suspended"})
    assert suspended.allocation is None
    assert (reactivated.action, reactivated.reason) == (
        ProjectAuditAction.PROJECT_REACTIVATED,
        "Paid",
    )
    assert (reactivated.before, reactivated.after) == ({"state": "suspended"}, {"state": "active"})


def test_a_suspension_without_a_reason_is_refused_and_writes_nothing(
    project: Project, staff: User
) -> None:
    with pytest.raises(ValidationFailed):
        project_set_state(project=project, staff=staff, state="suspended", reason=" ")

    project.refresh_from_db()
    assert project.state == ProjectState.ACTIVE
    assert not ProjectAuditEntry.objects.exists()


def test_suspending_a_suspended_project_writes_no_second_entry(
    project: Project, staff: User
) -> None:
    project_set_state(project=project, staff=staff, state="suspended", reason="Audit")

    with pytest.raises(Conflict):
        project_set_state(project=project, staff=staff, state="suspended", reason="Again")

    assert ProjectAuditEntry.objects.count() == 1


def test_an_unknown_state_is_refused(project: Project, staff: User) -> None:
    with pytest.raises(ValidationFailed) as refused:
        project_set_state(project=project, staff=staff, state="archived", reason="Done")

    assert set(refused.value.details) == {"state"}
    assert not ProjectAuditEntry.objects.exists()


def test_the_database_refuses_an_audit_entry_without_a_reason(
    project: Project, staff: User
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        ProjectAuditEntry.objects.create(
            project=project, action=ProjectAuditAction.PROJECT_SUSPENDED, actor=staff, reason=""
        )


def test_the_database_refuses_an_extension_entry_without_its_allocation(
    project: Project, staff: User
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        ProjectAuditEntry.objects.create(
            project=project,
            action=ProjectAuditAction.ALLOCATION_EXTENDED,
            actor=staff,
            reason="No allocation named",
        )


# Staff API ----------------------------------------------------------------------------------


def _extend_url(allocation: Allocation) -> str:
    return f"/api/v1/staff/projects/{allocation.project_id}/allocations/{allocation.pk}/extend/"


def test_staff_extend_and_suspend_through_the_api_and_read_the_trail(
    api: Api, allocation: Allocation, staff: User
) -> None:
    client = api(staff)
    extended = client.post(
        _extend_url(allocation),
        {"ends_on": "2027-09-30", "reason": "Cluster outage in May."},
        format="json",
    )
    assert extended.status_code == 200, extended.json()
    assert extended.json()["ends_on"] == "2027-09-30"
    suspended = client.post(
        f"/api/v1/staff/projects/{allocation.project_id}/suspend/",
        {"reason": "Unpaid invoice"},
        format="json",
    )
    assert suspended.json()["state"] == "suspended"

    trail = client.get(f"/api/v1/staff/projects/{allocation.project_id}/audit/")

    assert trail.status_code == 200
    body = trail.json()
    assert body["count"] == 2
    newest, oldest = body["results"]
    assert {k: newest[k] for k in ("action", "actor", "reason", "before", "after")} == {
        "action": "project_suspended",
        "actor": "staff@stargate.eu",
        "reason": "Unpaid invoice",
        "before": {"state": "active"},
        "after": {"state": "suspended"},
    }
    assert newest["allocation"] is None
    assert newest["gpu_type"] is None
    assert {k: oldest[k] for k in ("action", "allocation", "gpu_type", "before", "after")} == {
        "action": "allocation_extended",
        "allocation": allocation.pk,
        "gpu_type": "H100",
        "before": {"ends_on": "2027-06-30"},
        "after": {"ends_on": "2027-09-30"},
    }


def test_an_api_extension_without_a_reason_is_a_field_error_and_changes_nothing(
    api: Api, allocation: Allocation, staff: User
) -> None:
    missing = api(staff).post(_extend_url(allocation), {"ends_on": "2027-09-30"}, format="json")
    blank = api(staff).post(
        _extend_url(allocation), {"ends_on": "2027-09-30", "reason": "  "}, format="json"
    )

    assert set(assert_error(missing, 400, "invalid")["details"]) == {"reason"}
    assert set(assert_error(blank, 400, "invalid")["details"]) == {"reason"}
    allocation.refresh_from_db()
    assert allocation.ends_on == date(2027, 6, 30)
    assert not ProjectAuditEntry.objects.exists()


def test_only_staff_read_a_projects_audit_trail(
    api: Api, project: Project, alice: User, charlie: User
) -> None:
    url = f"/api/v1/staff/projects/{project.pk}/audit/"

    assert_error(api(alice).get(url), 403, "permission_denied")
    assert_error(api(charlie).get(url), 403, "permission_denied")
    assert_error(api(None).get(url), 401, "not_authenticated")


def test_the_audit_trail_query_count_does_not_grow(
    api: Api,
    project: Project,
    staff: User,
    django_assert_max_num_queries: Callable[..., object],
) -> None:
    allocation = project.allocations.get()
    for day in range(1, 6):
        allocation_extend(
            allocation=allocation,
            staff=staff,
            ends_on=date(2027, 7, day),
            reason=f"Extension {day}",
        )
    client = api(staff)
    with django_assert_max_num_queries(6):  # type: ignore[operator]
        response = client.get(f"/api/v1/staff/projects/{project.pk}/audit/")
    assert response.json()["count"] == 5


def test_an_extension_of_another_projects_allocation_is_404(
    api: Api, allocation: Allocation, staff: User
) -> None:
    other = AllocationFactory(ends_on=allocation.ends_on + timedelta(days=1))
    url = f"/api/v1/staff/projects/{allocation.project_id}/allocations/{other.pk}/extend/"

    response = api(staff).post(url, {"ends_on": "2028-01-01", "reason": "x"}, format="json")

    assert_error(response, 404, "not_found")
    assert not ProjectAuditEntry.objects.exists()


# Django admin ---------------------------------------------------------------------------------


def test_the_admin_lists_audit_entries_but_never_changes_them(
    admin_client: Client, project: Project, staff: User
) -> None:
    project_set_state(project=project, staff=staff, state="suspended", reason="Unpaid invoice")
    entry = ProjectAuditEntry.objects.get()

    listing = admin_client.get("/admin/booking/projectauditentry/")
    add = admin_client.get("/admin/booking/projectauditentry/add/")
    delete = admin_client.post(
        f"/admin/booking/projectauditentry/{entry.pk}/delete/", {"post": "yes"}
    )

    assert listing.status_code == 200
    assert "Unpaid invoice" in listing.content.decode()
    assert add.status_code == 403
    assert delete.status_code == 403
    assert ProjectAuditEntry.objects.filter(pk=entry.pk).exists()
