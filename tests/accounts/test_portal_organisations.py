"""Organisation pages: list, register, detail, edit; other tenants get 404."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import (
    Membership,
    MembershipRole,
    Organisation,
    VerificationDecision,
    VerificationState,
)
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.pages import error_is_linked_to_input, field_errors, page_text

CREATE_URL = reverse("portal:organisation_create")
LIST_URL = reverse("portal:organisation_list")


def valid_form(**changes: str) -> dict[str, str]:
    return {
        "name": "NTNU",
        "kind": "university",
        "country": "NO",
        "registration_number": "974767880",
        "website": "https://www.ntnu.no",
        "founded_on": "1996-01-01",
        "email_domains": "ntnu.no, stud.ntnu.no",
    } | changes


def test_list_shows_my_organisations_with_role_state_and_tier(login, alice, charlie):
    text = page_text(login(alice).get(LIST_URL))

    assert "University of Oslo" in text
    assert "Owner" in text
    assert "Verified" in text
    assert "Tier 1 · European academic" in text
    assert "Acme Compute Inc" not in text


def test_list_tells_a_newcomer_what_to_do(login, db):
    text = page_text(login(UserFactory()).get(LIST_URL))

    assert "You are not a member of any organisation yet." in text
    assert "Register an organisation" in text


def test_list_is_paginated(login, db):
    user = UserFactory()
    for n in range(30):
        organisation = OrganisationFactory(name=f"Lab {n:02d}")
        MembershipFactory(user=user, organisation=organisation)
    client = login(user)

    first, second = client.get(LIST_URL), client.get(LIST_URL, {"page": 2})

    assert "Lab 24" in page_text(first)
    assert 'href="?page=2"' in first.content.decode()
    assert "Lab 25" not in page_text(first)
    assert "Page 2 of 2" in page_text(second)
    assert "Lab 29" in page_text(second)


@pytest.mark.parametrize("organisation_count", [1, 30])
def test_list_query_count_does_not_grow_with_organisations(
    login, django_assert_max_num_queries, organisation_count, db
):
    user = UserFactory()
    for _ in range(organisation_count):
        organisation = OrganisationFactory(domains=["example.org"])
        MembershipFactory(user=user, organisation=organisation)
    client = login(user)

    with django_assert_max_num_queries(5):
        response = client.get(LIST_URL)

    assert response.status_code == 200


def test_create_form_offers_country_select_and_date_input(login, alice):
    body = login(alice).get(CREATE_URL).content.decode()

    assert '<select name="country"' in body
    assert '<option value="NO">Norway</option>' in body
    assert 'type="date" name="founded_on"' in body
    assert '<label for="id_email_domains">' in body


def test_registering_an_organisation_makes_me_its_owner_pending_verification(login, alice):
    response = login(alice).post(CREATE_URL, valid_form())

    organisation = Organisation.objects.get(name="NTNU")
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:organisation_detail", args=[organisation.pk])
    assert organisation.verification_state == VerificationState.PENDING
    assert organisation.founded_on == date(1996, 1, 1)
    assert sorted(d.domain for d in organisation.domains.all()) == ["ntnu.no", "stud.ntnu.no"]
    assert Membership.objects.get(organisation=organisation).user == alice
    assert Membership.objects.get(organisation=organisation).role == MembershipRole.OWNER


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            # Two days ahead: the parameters are computed when the tests are collected, and a run
            # that crosses midnight made "tomorrow" today (three CI failures at 00:00 UTC).
            {"founded_on": (timezone.localdate() + timedelta(days=2)).isoformat()},
            "founded_on",
            "The founding date cannot be in the future.",
        ),
        (
            {"country": "DE", "registration_number": "DE123"},
            "registration_number",
            "This is not a valid number for DE",
        ),
        (
            {"name": "university of oslo"},
            "name",
            "An organisation with this name already exists in this country.",
        ),
        (
            {"email_domains": "ntnu.no uio.no"},
            "email_domains",
            "Already claimed by another verified organisation: uio.no.",
        ),
        ({"email_domains": "not a domain!"}, "email_domains", "Not a valid domain"),
        ({"name": ""}, "name", "This field is required."),
        ({"founded_on": "yesterday"}, "founded_on", "Enter a valid date."),
    ],
    ids=[
        "future-founding",
        "bad-vat",
        "duplicate-name",
        "claimed-domain",
        "bad-domain",
        "no-name",
        "bad-date",
    ],
)
def test_bad_input_shows_the_error_next_to_the_field_and_creates_nothing(
    login, alice, changes, field, message
):
    before = Organisation.objects.count()

    response = login(alice).post(CREATE_URL, valid_form(**changes))

    assert response.status_code == 200
    assert any(message in error for error in field_errors(response, field)), field_errors(
        response, field
    )
    assert error_is_linked_to_input(response, field)
    assert Organisation.objects.count() == before
    assert Membership.objects.filter(user=alice).count() == 1


def test_detail_shows_facts_tier_verification_and_members(login, alice, dave, alice_org):
    text = page_text(login(alice).get(reverse("portal:organisation_detail", args=[alice_org.pk])))

    assert "University of Oslo" in text
    assert "971035854" in text
    assert "uio.no" in text
    assert "Tier 1 · European academic" in text
    assert "Checked the registry." in text
    assert "2 members" in text
    assert "dave@uio.no" in text
    assert "Edit" in text


def test_detail_of_a_pending_organisation_explains_the_wait(login, db):
    owner = UserFactory()
    organisation = OrganisationFactory(pending=True)
    MembershipFactory(user=owner, organisation=organisation, role=MembershipRole.OWNER)

    text = page_text(
        login(owner).get(reverse("portal:organisation_detail", args=[organisation.pk]))
    )

    assert "Pending verification" in text
    assert "Until they decide, the organisation counts as tier 4." in text
    assert "Tier 4 · International or unverified" in text


@pytest.mark.parametrize(
    "name", ["organisation_detail", "organisation_edit", "member_list", "join_request_list"]
)
def test_charlie_gets_404_on_alices_organisation_pages(login, alice, charlie, alice_org, name):
    response = login(charlie).get(reverse(f"portal:{name}", args=[alice_org.pk]))

    assert response.status_code == 404
    assert "Page not found" in page_text(response)


def test_charlie_cannot_edit_alices_organisation_by_post(login, alice, charlie, alice_org):
    response = login(charlie).post(
        reverse("portal:organisation_edit", args=[alice_org.pk]), valid_form(name="Mine now")
    )

    assert response.status_code == 404
    alice_org.refresh_from_db()
    assert alice_org.name == "University of Oslo"


def test_plain_member_may_not_edit(login, dave, alice_org):
    response = login(dave).get(reverse("portal:organisation_edit", args=[alice_org.pk]))

    assert response.status_code == 403
    assert "Not allowed" in page_text(response)


def test_edit_form_warns_that_tier_facts_send_it_back_to_verification(login, alice, alice_org):
    response = login(alice).get(reverse("portal:organisation_edit", args=[alice_org.pk]))

    text = page_text(response)
    assert "sends the organisation back to verification" in text
    assert 'value="uio.no"' in response.content.decode()
    assert 'value="1811-09-02"' in response.content.decode()


def test_editing_the_website_keeps_the_verification(login, alice, alice_org):
    url = reverse("portal:organisation_edit", args=[alice_org.pk])
    form = valid_form(
        name="University of Oslo",
        registration_number="971035854",
        founded_on="1811-09-02",
        email_domains="uio.no",
        website="https://www.uio.no",
    )

    response = login(alice).post(url, form)

    assert response.status_code == 302
    alice_org.refresh_from_db()
    assert alice_org.website == "https://www.uio.no"
    assert alice_org.verification_state == VerificationState.VERIFIED


def test_changing_the_kind_sends_it_back_to_verification(login, alice, alice_org):
    url = reverse("portal:organisation_edit", args=[alice_org.pk])
    form = valid_form(
        name="University of Oslo",
        kind="public_body",
        registration_number="971035854",
        founded_on="1811-09-02",
        email_domains="uio.no",
    )

    response = login(alice).post(url, form, follow=True)

    alice_org.refresh_from_db()
    assert alice_org.verification_state == VerificationState.PENDING
    assert VerificationDecision.objects.filter(
        organisation=alice_org, decision=VerificationDecision.Decision.REOPENED
    ).exists()
    assert "The changes send it back to verification." in page_text(response)


def test_bad_edit_shows_the_error_and_changes_nothing(login, alice, alice_org):
    url = reverse("portal:organisation_edit", args=[alice_org.pk])
    future = (timezone.localdate() + timedelta(days=30)).isoformat()

    response = login(alice).post(url, valid_form(name="UiO", founded_on=future))

    assert field_errors(response, "founded_on") == ["The founding date cannot be in the future."]
    alice_org.refresh_from_db()
    assert alice_org.name == "University of Oslo"
