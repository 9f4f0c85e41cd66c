"""Staff console for grants: calls, the ranking, reviewer assignment, decisions, projects."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from accounts.models import MembershipRole
from booking.grants.services.applications import application_submit
from booking.grants.services.reviews import ScoreInput, review_score, reviewer_assign
from booking.ledger.selectors import balances_of
from booking.models import (
    REVIEWERS_GROUP,
    Application,
    ApplicationState,
    Call,
    CallState,
    LedgerEntry,
    Project,
    ProjectState,
    ReviewAssignment,
)
from tests.factories import CallFactory, MembershipFactory, OrganisationFactory, UserFactory
from tests.fixtures.grants import draft_for
from tests.pages import field_errors, page_text

CALLS_URL = reverse("grants_console:call_list")
PROJECTS_URL = reverse("grants_console:project_list")


def review_url(application) -> str:
    return reverse("grants_console:application_review", args=[application.pk])


def console_project_url(project, name: str = "project_detail") -> str:
    return reverse(f"grants_console:{name}", args=[project.pk])


@pytest.mark.parametrize("url", [CALLS_URL, PROJECTS_URL, "/console/grants/calls/new/"])
def test_anonymous_visitor_is_sent_to_log_in(client, db, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("url", [CALLS_URL, PROJECTS_URL, "/console/grants/calls/new/"])
def test_non_staff_user_gets_403(login, alice, url):
    assert login(alice).get(url).status_code == 403


def test_non_staff_cannot_award(login, alice, portal_submitted):
    response = login(alice).post(
        reverse("grants_console:application_award", args=[portal_submitted.pk]),
        {"award_H100": "4000", "reason": "Me"},
    )

    assert response.status_code == 403
    assert not Project.objects.exists()


def test_staff_see_calls_with_pools_and_counts(login, staff, portal_submitted):
    text = page_text(login(staff).get(CALLS_URL))

    assert "AI Factory call 2027" in text
    assert "H100: 50,000 / 50,000" in text


def test_staff_create_a_call_with_pools_tiers_and_criteria(login, staff, portal_call):
    opens = timezone.now().replace(microsecond=0, second=0)
    response = login(staff).post(
        reverse("grants_console:call_create"),
        {
            "title": "Startup sprint 2027",
            "description": "GPU time for European startups.",
            "kind": "standard",
            "opens_at": opens.strftime("%Y-%m-%dT%H:%M"),
            "closes_at": (opens + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
            "allowed_tiers": ["2", "3"],
            "max_request_gpu_hours": "5000",
            "pool_H100": "20000",
            "pool_GB200": "",
            "criteria": "Innovation: 60\nTeam = 40",
        },
        follow=True,
    )

    created = Call.objects.get(title="Startup sprint 2027")
    assert created.state == CallState.DRAFT
    assert created.allowed_tiers == [2, 3]
    assert {p.gpu_type.name: p.gpu_hours for p in created.pools.all()} == {"H100": 20000}
    assert [(c.name, c.weight) for c in created.criteria.all()] == [
        ("Innovation", 60),
        ("Team", 40),
    ]
    assert "The call was created as a draft." in page_text(response)


def test_a_call_that_closes_before_it_opens_shows_the_error_next_to_the_field(
    login, staff, portal_call
):
    opens = timezone.now()
    response = login(staff).post(
        reverse("grants_console:call_create"),
        {
            "title": "Backwards",
            "description": "x",
            "kind": "standard",
            "opens_at": opens.strftime("%Y-%m-%dT%H:%M"),
            "closes_at": (opens - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "allowed_tiers": ["1"],
            "max_request_gpu_hours": "5000",
        },
    )

    assert field_errors(response, "closes_at") == ["The call must close after it opens."]
    assert field_errors(response, "pool_GB200") == ["Offer at least one GPU type."]
    assert not Call.objects.filter(title="Backwards").exists()


def test_staff_edit_a_call_and_its_pools(login, staff, portal_call):
    response = login(staff).post(
        reverse("grants_console:call_edit", args=[portal_call.pk]),
        {
            "title": portal_call.title,
            "description": portal_call.description,
            "opens_at": portal_call.opens_at.strftime("%Y-%m-%dT%H:%M"),
            "closes_at": portal_call.closes_at.strftime("%Y-%m-%dT%H:%M"),
            "allowed_tiers": ["1", "2", "3", "4"],
            "max_request_gpu_hours": "12000",
            "pool_H100": "60000",
            "pool_H200": "20000",
        },
        follow=True,
    )

    portal_call.refresh_from_db()
    assert portal_call.allowed_tiers == [1, 2, 3, 4]
    assert portal_call.max_request_gpu_hours == 12000
    assert portal_call.pools.get(gpu_type__name="H100").gpu_hours == 60000
    assert "Saved." in page_text(response)


def test_staff_close_and_reopen_a_call(login, staff, portal_call):
    client = login(staff)

    client.post(reverse("grants_console:call_close", args=[portal_call.pk]))
    portal_call.refresh_from_db()
    assert portal_call.state == CallState.CLOSED

    response = client.post(reverse("grants_console:call_open", args=[portal_call.pk]), follow=True)
    portal_call.refresh_from_db()
    assert portal_call.state == CallState.OPEN
    assert "“AI Factory call 2027” is open." in page_text(response)


def _score(application, reviewer, staff, values):
    assignment = reviewer_assign(application=application, reviewer=reviewer, staff=staff)
    criteria = application.call.criteria.all()
    review_score(
        assignment=assignment,
        reviewer=reviewer,
        scores=[ScoreInput(c.pk, value) for c, value in zip(criteria, values, strict=True)],
    )


def test_ranking_orders_by_tier_then_weighted_score_and_shows_both(
    login, staff, alice, bob, portal_call, reviewer
):
    high = application_submit(application=draft_for(bob, portal_call), user=bob)  # tier 2
    mid = application_submit(application=draft_for(alice, portal_call), user=alice)  # tier 1
    other = UserFactory(email="kari@uio.no")
    MembershipFactory(user=other, organisation=alice.memberships.get().organisation)
    low = application_submit(application=draft_for(other, portal_call), user=other)  # tier 1
    _score(high, reviewer, staff, (5, 5, 5))
    _score(mid, reviewer, staff, (4, 4, 4))
    _score(low, reviewer, staff, (2, 2, 2))

    response = login(staff).get(reverse("grants_console:call_detail", args=[portal_call.pk]))

    rows = page_text(response).split("State ", 1)[1]
    assert rows.index("kari@uio.no") > rows.index("alice@uio.no")
    assert rows.index("bob@fjordai.no") > rows.index("kari@uio.no")
    assert "1 NorLLM University of Oslo · alice@uio.no Tier 1 4.00 1" in rows
    assert "Tier 2 5.00 1" in rows


def test_review_page_warns_about_reviewers_from_the_applicants_organisation(
    login, staff, portal_submitted, reviewer, alice_org
):
    colleague = UserFactory(email="olga@uio.no")
    colleague.groups.add(Group.objects.get(name=REVIEWERS_GROUP))
    MembershipFactory(user=colleague, organisation=alice_org, role=MembershipRole.MEMBER)

    text = page_text(login(staff).get(review_url(portal_submitted)))

    assert "Conflict of interest: these reviewers belong to University of Oslo" in text
    assert "olga@uio.no — conflict: the applicant's organisation" in text
    assert "rita@kth.se" in text


def test_assigning_a_conflicted_reviewer_is_refused_next_to_the_field(
    login, staff, portal_submitted, alice_org, reviewer
):
    colleague = UserFactory(email="olga@uio.no")
    colleague.groups.add(Group.objects.get(name=REVIEWERS_GROUP))
    MembershipFactory(user=colleague, organisation=alice_org, role=MembershipRole.MEMBER)

    response = login(staff).post(
        reverse("grants_console:application_assign", args=[portal_submitted.pk]),
        {"reviewer": colleague.pk},
    )

    assert field_errors(response, "reviewer") == [
        "A reviewer from the applicant's organisation cannot be assigned."
    ]
    assert not ReviewAssignment.objects.exists()


def test_staff_assign_a_reviewer(login, staff, portal_submitted, reviewer):
    response = login(staff).post(
        reverse("grants_console:application_assign", args=[portal_submitted.pk]),
        {"reviewer": reviewer.pk},
        follow=True,
    )

    assert ReviewAssignment.objects.get().reviewer == reviewer
    portal_submitted.refresh_from_db()
    assert portal_submitted.state == ApplicationState.UNDER_REVIEW
    text = page_text(response)
    assert "rita@kth.se is assigned and notified." in text
    assert "rita@kth.se — —" not in text


def test_award_form_shows_the_request_and_what_remains_in_each_pool(login, staff, assignment):
    text = page_text(login(staff).get(review_url(assignment.application)))

    assert "Requested 4,000 · 50,000 remain in the pool" in text
    assert "Requested 0 · 20,000 remain in the pool" in text


def test_staff_award_per_gpu_type_and_a_project_appears(login, staff, assignment, alice):
    response = login(staff).post(
        reverse("grants_console:application_award", args=[assignment.application_id]),
        {"award_H100": "3000", "award_H200": "500", "reason": "Strong science."},
        follow=True,
    )

    project = Project.objects.get()
    balances = balances_of(project=project)
    assert (balances["H100"].granted, balances["H200"].granted) == (3000, 500)
    assert project.members.get().user == alice
    text = page_text(response)
    assert "Awarded. The project “NorLLM” was created" in text
    assert "H100 3,000 0 0 3,000" in text


def test_award_above_the_pool_is_refused_next_to_the_field_and_nothing_changes(
    login, staff, assignment
):
    response = login(staff).post(
        reverse("grants_console:application_award", args=[assignment.application_id]),
        {"award_H100": "60000", "reason": "Generous."},
    )

    assert field_errors(response, "award_H100") == [
        "Only 50,000 GPU-hours remain in the H100 pool."
    ]
    assert not Project.objects.exists()
    assignment.application.refresh_from_db()
    assert assignment.application.state == ApplicationState.UNDER_REVIEW


def test_award_without_hours_or_reason_is_refused(login, staff, assignment):
    response = login(staff).post(
        reverse("grants_console:application_award", args=[assignment.application_id]),
        {"award_H100": "", "reason": ""},
    )

    assert field_errors(response, "reason") == ["This field is required."]
    assert not Project.objects.exists()


def test_award_of_zero_hours_is_refused_next_to_the_hours(login, staff, assignment):
    response = login(staff).post(
        reverse("grants_console:application_award", args=[assignment.application_id]),
        {"award_H100": "", "reason": "Nothing."},
    )

    assert field_errors(response, "award_H100") == ["Award a positive number of GPU-hours."]
    assert not Project.objects.exists()


def test_rejecting_needs_a_reason(login, staff, assignment):
    response = login(staff).post(
        reverse("grants_console:application_reject", args=[assignment.application_id]),
        {"reason": "   "},
    )

    assert field_errors(response, "reason") == ["This field is required."]
    assignment.application.refresh_from_db()
    assert assignment.application.state == ApplicationState.UNDER_REVIEW


def test_staff_reject_with_a_reason_the_applicant_sees(login, staff, assignment, alice):
    login(staff).post(
        reverse("grants_console:application_reject", args=[assignment.application_id]),
        {"reason": "Out of scope for this call."},
    )

    application = Application.objects.get()
    assert application.state == ApplicationState.REJECTED
    text = page_text(login(alice).get(reverse("grants:application_detail", args=[application.pk])))
    assert "Rejected" in text
    assert "Out of scope for this call." in text


def test_a_decided_application_cannot_be_decided_again(login, staff, project):
    response = login(staff).post(
        reverse("grants_console:application_reject", args=[project.application_id]),
        {"reason": "Changed my mind."},
        follow=True,
    )

    assert "This application is Awarded." in page_text(response)
    project.application.refresh_from_db()
    assert project.application.state == ApplicationState.AWARDED


def test_projects_list_shows_balances(login, staff, project):
    text = page_text(login(staff).get(PROJECTS_URL))

    assert "NorLLM University of Oslo" in text
    assert "H100: 4,000 / 4,000" in text


def _movement(project, form: str, hours: str, key: str, reason: str = "Extra hours") -> dict:
    return {
        f"{form}-gpu_type": "H100",
        f"{form}-gpu_hours": hours,
        f"{form}-reason": reason,
        f"{form}-idempotency_key": key,
    }


def test_top_up_adds_hours_once_even_when_submitted_twice(login, staff, project):
    client = login(staff)
    url = console_project_url(project, "project_top_up")
    data = _movement(project, "top_up_form", "1000", "console-key-1")

    client.post(url, data)
    response = client.post(url, data, follow=True)

    assert balances_of(project=project)["H100"].granted == 5000
    assert "This was already recorded; nothing changed." in page_text(response)


def test_project_page_makes_a_fresh_idempotency_key_for_each_form(login, staff, project):
    body = login(staff).get(console_project_url(project)).content.decode()

    assert body.count('name="top_up_form-idempotency_key" value="console-') == 1
    assert body.count('name="adjust_form-idempotency_key" value="console-') == 1


def test_adjustment_below_what_is_available_is_refused_next_to_the_hours(login, staff, project):
    response = login(staff).post(
        console_project_url(project, "project_adjust"),
        _movement(project, "adjust_form", "-5000", "console-key-2", reason="Correction"),
    )

    assert field_errors(response, "adjust_form-gpu_hours") == [
        "Not enough GPU-hours: 5000.0000 needed, 4000.0000 available."
    ]
    assert not LedgerEntry.objects.filter(kind="adjustment").exists()


def test_adjustment_needs_a_reason(login, staff, project):
    response = login(staff).post(
        console_project_url(project, "project_adjust"),
        _movement(project, "adjust_form", "-50", "console-key-3", reason=""),
    )

    assert field_errors(response, "adjust_form-reason") == ["This field is required."]
    assert not LedgerEntry.objects.filter(kind="adjustment").exists()


def test_staff_extend_an_allocation(login, staff, project):
    allocation = project.allocations.get()
    new_end = allocation.ends_on + timedelta(days=90)

    login(staff).post(
        reverse("grants_console:allocation_extend", args=[project.pk, allocation.pk]),
        {
            f"extend-{allocation.pk}-ends_on": new_end.isoformat(),
            f"extend-{allocation.pk}-reason": "Hardware delay",
        },
    )

    allocation.refresh_from_db()
    assert allocation.ends_on == new_end


def test_an_extension_must_end_later(login, staff, project):
    allocation = project.allocations.get()
    before = allocation.ends_on

    response = login(staff).post(
        reverse("grants_console:allocation_extend", args=[project.pk, allocation.pk]),
        {
            f"extend-{allocation.pk}-ends_on": (before - timedelta(days=1)).isoformat(),
            f"extend-{allocation.pk}-reason": "Hardware delay",
        },
    )

    assert field_errors(response, f"extend-{allocation.pk}-ends_on") == [
        "An extension must end later."
    ]
    allocation.refresh_from_db()
    assert allocation.ends_on == before


def test_staff_suspend_and_unsuspend_a_project_with_a_reason(login, staff, project):
    client = login(staff)

    client.post(console_project_url(project, "project_state"), {"reason": "Unpaid invoice"})
    project.refresh_from_db()
    assert project.state == ProjectState.SUSPENDED

    response = client.post(
        console_project_url(project, "project_state"), {"reason": "Paid"}, follow=True
    )
    project.refresh_from_db()
    assert project.state == ProjectState.ACTIVE
    assert "The project is active again." in page_text(response)


def test_suspending_needs_a_reason(login, staff, project):
    response = login(staff).post(console_project_url(project, "project_state"), {"reason": ""})

    assert field_errors(response, "reason") == ["This field is required."]
    project.refresh_from_db()
    assert project.state == ProjectState.ACTIVE


def _scored_applications(count, call, reviewer, staff) -> None:
    """``count`` applications to ``call`` from tier-1 universities, each scored (3, 4, 5)."""
    for i in range(count):
        organisation = OrganisationFactory(name=f"University {i}")
        applicant = UserFactory()
        MembershipFactory(user=applicant, organisation=organisation, role=MembershipRole.OWNER)
        draft = draft_for(applicant, call, requests={"H100": Decimal(10), "H200": Decimal(5)})
        _score(application_submit(application=draft, user=applicant), reviewer, staff, (3, 4, 5))


@pytest.mark.parametrize("count", [1, 12])
def test_console_ranking_query_count_does_not_grow(
    login, staff, portal_call, reviewer, django_assert_max_num_queries, count
):
    _scored_applications(count, portal_call, reviewer, staff)
    client = login(staff)

    # The ranking reads its scores, applications and organisations apart (a call of 3,000
    # applications: 395 -> 214 ms), and the page its applicants: three queries, for any count.
    with django_assert_max_num_queries(13):
        response = client.get(reverse("grants_console:call_detail", args=[portal_call.pk]))

    assert page_text(response).count("Tier 1 3.70 1") == count


@pytest.mark.parametrize("count", [1, 12])
def test_api_ranking_query_count_does_not_grow(
    api, staff, portal_call, reviewer, django_assert_max_num_queries, count
):
    _scored_applications(count, portal_call, reviewer, staff)
    client = api(staff)

    # The session, the call, its scores, applications, organisations and requests: each
    # application's requests were two queries of their own (6,005 for a call of 3,000).
    with django_assert_max_num_queries(7):
        ranking = client.get(f"/api/v1/staff/calls/{portal_call.pk}/ranking/").json()

    assert [row["position"] for row in ranking] == list(range(1, count + 1))
    assert {row["organisation"] for row in ranking} == {f"University {i}" for i in range(count)}
    for row in ranking:
        assert (row["tier"], row["weighted_score"], row["reviews"]) == (1, "3.70", 1)
        assert row["requested_gpu_hours"] == {"H100": "10.0000", "H200": "5.0000"}


@pytest.mark.parametrize("count", [1, 12])
def test_console_lists_query_counts_do_not_grow(
    login, staff, alice_org, django_assert_max_num_queries, count, db
):
    from tests.factories import AllocationFactory, ProjectFactory

    for _ in range(count):
        CallFactory(pools={"H100": 100})
        AllocationFactory(project=ProjectFactory(organisation=alice_org))
    client = login(staff)

    with django_assert_max_num_queries(6):
        assert client.get(CALLS_URL).status_code == 200
    # The page's balances: its allocations, their checkpoints, the entries after them.
    with django_assert_max_num_queries(7):
        assert client.get(PROJECTS_URL).status_code == 200
