"""The console project page: extending needs a reason, and the audit trail shows each staff
action on the project (who, when, what, why)."""

from datetime import UTC, datetime, timedelta

import time_machine
from django.urls import reverse
from django.utils.formats import date_format

from booking.grants.services.projects import allocation_extend, project_set_state
from booking.models import ProjectAuditEntry, ProjectState
from tests.factories import UserFactory
from tests.pages import error_is_linked_to_input, field_errors, page_text


def _project_url(project) -> str:
    return reverse("grants_console:project_detail", args=[project.pk])


def _extend_url(project, allocation) -> str:
    return reverse("grants_console:allocation_extend", args=[project.pk, allocation.pk])


def test_staff_extend_with_a_reason_and_the_page_shows_it_in_the_audit_trail(login, staff, project):
    allocation = project.allocations.get()
    new_end = allocation.ends_on + timedelta(days=90)

    response = login(staff).post(
        _extend_url(project, allocation),
        {
            f"extend-{allocation.pk}-ends_on": new_end.isoformat(),
            f"extend-{allocation.pk}-reason": "Cluster outage in May",
        },
        follow=True,
    )

    text = page_text(response)
    assert f"The H100 allocation now ends on {new_end.isoformat()}." in text
    entry = ProjectAuditEntry.objects.get()
    assert (entry.actor, entry.reason) == (staff, "Cluster outage in May")
    assert "Audit trail" in text
    assert "Allocation extended" in text
    assert "staff@stargate.eu" in text
    assert "Cluster outage in May" in text


def test_an_extension_without_a_reason_is_refused_next_to_the_reason(login, staff, project):
    allocation = project.allocations.get()
    before = allocation.ends_on
    field = f"extend-{allocation.pk}-reason"

    response = login(staff).post(
        _extend_url(project, allocation),
        {f"extend-{allocation.pk}-ends_on": (before + timedelta(days=30)).isoformat(), field: ""},
    )

    assert field_errors(response, field) == ["This field is required."]
    assert error_is_linked_to_input(response, field)
    allocation.refresh_from_db()
    assert allocation.ends_on == before
    assert not ProjectAuditEntry.objects.exists()


def test_the_audit_trail_says_who_did_what_when_and_why_newest_first(login, staff, project):
    allocation = project.allocations.get()
    old_end = allocation.ends_on
    new_end = old_end + timedelta(days=31)
    ops = UserFactory(email="ops@stargate.eu", is_staff=True)
    with time_machine.travel(datetime(2027, 3, 1, 9, 30, tzinfo=UTC), tick=False):
        allocation_extend(allocation=allocation, staff=staff, ends_on=new_end, reason="Outage")
    with time_machine.travel(datetime(2027, 3, 2, 14, 0, tzinfo=UTC), tick=False):
        project_set_state(
            project=project, staff=ops, state=ProjectState.SUSPENDED, reason="Unpaid invoice"
        )

    text = page_text(login(staff).get(_project_url(project)))

    trail = text[text.index("Audit trail When What Change Who Reason") : text.index("Members")]
    suspended = "March 2, 2027, 2 p.m. Project suspended Active → Suspended ops@stargate.eu"
    assert f"{suspended} Unpaid invoice" in trail
    extended = (
        f"March 1, 2027, 9:30 a.m. Allocation extended H100 ends on {date_format(new_end)} "
        f"instead of {date_format(old_end)} staff@stargate.eu Outage"
    )
    assert extended in trail
    assert trail.index(suspended) < trail.index(extended)


def test_a_project_without_staff_actions_says_where_they_will_appear(login, staff, project):
    text = page_text(login(staff).get(_project_url(project)))

    assert "No staff actions yet." in text
