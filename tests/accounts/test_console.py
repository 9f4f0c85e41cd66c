"""Staff console: verification queue with evidence, reviews, all organisations, audit trail."""

import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import (
    MembershipRole,
    Organisation,
    OrganisationKind,
    VerificationDecision,
    VerificationState,
)
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.pages import field_errors, form_errors, page_text

QUEUE_URL = reverse("console:verification_queue")
CONSOLE_URLS = [
    QUEUE_URL,
    reverse("console:organisation_list"),
    reverse("console:decision_list"),
]


@pytest.fixture
def ntnu(db) -> Organisation:
    """A Norwegian university waiting for verification, owned by dana@ntnu.no."""
    organisation = OrganisationFactory(
        name="NTNU",
        kind=OrganisationKind.UNIVERSITY,
        country="NO",
        registration_number="974767880",
        website="https://www.ntnu.no",
        founded_on=date(1996, 1, 1),
        domains=["ntnu.no"],
        pending=True,
    )
    MembershipFactory(
        user=UserFactory(email="dana@ntnu.no"), organisation=organisation, role=MembershipRole.OWNER
    )
    return organisation


def review_url(organisation: Organisation) -> str:
    return reverse("console:organisation_review", args=[organisation.pk])


@pytest.mark.parametrize("url", [*CONSOLE_URLS, "/console/organisations/1/"])
def test_anonymous_visitor_is_sent_to_log_in(client, db, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")


@pytest.mark.parametrize("url", CONSOLE_URLS)
def test_non_staff_user_gets_403(login, alice, url):
    response = login(alice).get(url)

    assert response.status_code == 403
    assert "Not allowed" in page_text(response)


def test_non_staff_user_cannot_decide(login, alice, ntnu):
    response = login(alice).post(review_url(ntnu), {"decision": "approve", "reason": "mine"})

    assert response.status_code == 403
    ntnu.refresh_from_db()
    assert ntnu.verification_state == VerificationState.PENDING
    assert not VerificationDecision.objects.exists()


def test_queue_shows_pending_organisations_with_their_evidence(login, staff, ntnu, alice):
    text = page_text(login(staff).get(QUEUE_URL))

    assert "NTNU" in text
    assert "974767880 ✓ valid (valid NO orgnr)" in text
    assert "dana@ntnu.no" in text
    assert "Owner's e-mail on a claimed domain ✓ yes" in text
    assert "Website on a claimed domain ✓ yes" in text
    assert "NO ✓ in the European region" in text
    assert "years" in text
    assert "Tier if verified Tier 1" in text
    assert "University of Oslo" not in text  # verified already


def test_queue_flags_weak_evidence(login, staff, db):
    organisation = OrganisationFactory(
        name="Shady Compute",
        kind=OrganisationKind.COMPANY,
        country="US",
        website="https://elsewhere.example",
        founded_on=None,
        pending=True,
        domains=["shady.example"],
    )
    MembershipFactory(
        user=UserFactory(email="boss@gmail.com"), organisation=organisation, role="owner"
    )

    text = page_text(login(staff).get(QUEUE_URL))

    assert "? not checked (no number given)" in text
    assert "Owner's e-mail on a claimed domain ✗ no" in text
    assert "✗ outside the European region" in text
    assert "founding date not given" in text
    assert "Tier if verified Tier 4" in text


def test_queue_is_oldest_first(login, staff, db):
    newer = OrganisationFactory(name="Newer Lab", pending=True)
    older = OrganisationFactory(name="Older Lab", pending=True)
    Organisation.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=3))

    text = page_text(login(staff).get(QUEUE_URL))

    assert text.index(older.name) < text.index(newer.name)


def test_empty_queue_says_so(login, staff):
    assert "The queue is empty" in page_text(login(staff).get(QUEUE_URL))


@pytest.mark.parametrize("pending_count", [1, 20])
def test_queue_query_count_does_not_grow_with_the_queue(
    login, staff, django_assert_max_num_queries, pending_count
):
    for _ in range(pending_count):
        organisation = OrganisationFactory(pending=True, domains=["example.org"])
        MembershipFactory(organisation=organisation, role=MembershipRole.OWNER)
    client = login(staff)

    with django_assert_max_num_queries(6):
        response = client.get(QUEUE_URL)

    assert response.status_code == 200


def test_review_page_shows_facts_evidence_and_decision_form(login, staff, ntnu):
    response = login(staff).get(review_url(ntnu))

    text = page_text(response)
    assert "Review NTNU" in text
    assert "valid NO orgnr" in text
    assert "Approve" in text
    assert "Reject" in text
    assert '<label for="id_reason">' in response.content.decode()


def test_approving_records_a_decision_and_verifies(login, staff, ntnu):
    response = login(staff).post(
        review_url(ntnu), {"decision": "approve", "reason": "Brønnøysund register checked."}
    )

    assert response.status_code == 302
    assert response["Location"] == QUEUE_URL
    ntnu.refresh_from_db()
    assert ntnu.verification_state == VerificationState.VERIFIED
    assert ntnu.verification_reason == "Brønnøysund register checked."
    decision = VerificationDecision.objects.get(organisation=ntnu)
    assert decision.decision == VerificationDecision.Decision.VERIFIED
    assert decision.decided_by == staff
    assert decision.reason == "Brønnøysund register checked."
    assert decision.evidence["registration_valid"] is True


def test_rejecting_records_a_decision(login, staff, ntnu):
    login(staff).post(review_url(ntnu), {"decision": "reject", "reason": "Not a real university."})

    ntnu.refresh_from_db()
    assert ntnu.verification_state == VerificationState.REJECTED
    decision = VerificationDecision.objects.get(organisation=ntnu)
    assert decision.decision == VerificationDecision.Decision.REJECTED
    assert decision.reason == "Not a real university."


@pytest.mark.parametrize("reason", ["", "   "])
def test_decision_without_reason_shows_a_form_error(login, staff, ntnu, reason):
    response = login(staff).post(review_url(ntnu), {"decision": "approve", "reason": reason})

    assert response.status_code == 200
    assert field_errors(response, "reason") in (
        ["This field is required."],
        ["Give a reason for the decision."],
    )
    ntnu.refresh_from_db()
    assert ntnu.verification_state == VerificationState.PENDING
    assert not VerificationDecision.objects.exists()


def test_approving_with_a_domain_claimed_meanwhile_shows_the_error(login, staff, ntnu):
    OrganisationFactory(name="NTNU Clone", domains=["ntnu.no"])  # verified, same domain

    response = login(staff).post(review_url(ntnu), {"decision": "approve", "reason": "ok"})

    assert response.status_code == 200
    assert any("ntnu.no" in error for error in form_errors(response))
    ntnu.refresh_from_db()
    assert ntnu.verification_state == VerificationState.PENDING


def test_deciding_the_same_way_twice_shows_the_error(login, staff, alice_org):
    response = login(staff).post(review_url(alice_org), {"decision": "approve", "reason": "again"})

    assert response.status_code == 200
    assert form_errors(response) == ["The organisation is already Verified."]


def test_unknown_organisation_is_404(login, staff):
    assert login(staff).get("/console/organisations/999999/").status_code == 404


def test_organisation_list_filters_by_state(login, staff, ntnu, alice_org, charlie):
    client = login(staff)
    url = reverse("console:organisation_list")

    everything = page_text(client.get(url))
    pending = page_text(client.get(url, {"state": "pending"}))
    verified = page_text(client.get(url, {"state": "verified"}))

    assert "NTNU" in everything
    assert "University of Oslo" in everything
    assert "NTNU" in pending
    assert "University of Oslo" not in pending
    assert "University of Oslo" in verified
    assert "Acme Compute Inc" in verified
    assert "NTNU" not in verified


def test_organisation_list_searches_by_name(login, staff, ntnu, alice_org):
    text = page_text(login(staff).get(reverse("console:organisation_list"), {"q": "oslo"}))

    assert "University of Oslo" in text
    assert "NTNU" not in text


def test_audit_trail_shows_who_decided_what_when_and_why(login, staff, ntnu):
    client = login(staff)
    client.post(review_url(ntnu), {"decision": "reject", "reason": "Missing proof."})
    client.post(review_url(ntnu), {"decision": "approve", "reason": "Proof received."})

    text = page_text(client.get(reverse("console:decision_list")))

    assert "Missing proof." in text
    assert "Proof received." in text
    assert "staff@stargate.eu" in text
    assert "Rejected" in text
    assert text.index("Proof received.") < text.index("Missing proof.")  # newest first


def test_audit_trail_is_paginated(login, staff, ntnu):
    for n in range(30):
        VerificationDecision.objects.create(
            organisation=ntnu, decision="rejected", decided_by=staff, reason=f"Reason {n:02d}"
        )

    text = page_text(login(staff).get(reverse("console:decision_list"), {"page": 2}))

    assert "Page 2 of 2" in text
    assert "Reason 00" in text


def test_console_pages_mark_only_the_console_as_current_in_the_main_nav(login, staff, ntnu):
    body = login(staff).get(review_url(ntnu)).content.decode()

    current = re.findall(r'<a href="([^"]+)" aria-current="page">', body)
    assert reverse("console:verification_queue") in current
    assert reverse("portal:organisation_list") not in current
