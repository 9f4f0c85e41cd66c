"""Browsing calls: open ones first with pools, remaining hours, criteria, tiers and deadline."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import CallFactory
from tests.pages import page_text

LIST_URL = reverse("grants:call_list")


def test_open_calls_come_before_closed_ones_and_drafts_are_hidden(login, alice, portal_call):
    CallFactory(title="Closed call 2026", state="closed")
    CallFactory(title="Draft call 2028", state="draft")

    text = page_text(login(alice).get(LIST_URL))

    assert text.index("AI Factory call 2027") < text.index("Closed call 2026")
    assert "Draft call 2028" not in text
    assert "Open for applications" in text
    assert "H100 (50,000 GPU-hours left)" in text


def test_call_page_shows_pools_remaining_hours_criteria_tiers_and_deadline(
    login, alice, portal_call
):
    response = login(alice).get(reverse("grants:call_detail", args=[portal_call.pk]))

    text = page_text(response)
    assert "Apply to this call" in text
    assert "H200 141 GB 1000 W 20,000 20,000" in text
    assert "Excellence · weight 50" in text
    assert "Tier 1 · European academic" in text
    assert "Tier 4" not in text
    assert "10,000 GPU-hours per application" in text
    assert portal_call.closes_at.strftime("%Y") in text
    assert "You have not applied yet." in text


def test_closed_call_page_says_where_to_go_instead(login, alice, portal_call):
    portal_call.closes_at = timezone.now() - timedelta(minutes=1)
    portal_call.opens_at = portal_call.closes_at - timedelta(days=30)
    portal_call.save()

    text = page_text(login(alice).get(reverse("grants:call_detail", args=[portal_call.pk])))

    assert "Apply to this call" not in text
    assert "This call does not accept applications now." in text


def test_draft_call_is_404_for_researchers(login, alice, db):
    draft = CallFactory(state="draft")

    assert login(alice).get(reverse("grants:call_detail", args=[draft.pk])).status_code == 404


def test_empty_call_list_says_what_to_do(login, alice):
    assert "No call is published yet." in page_text(login(alice).get(LIST_URL))


def test_anonymous_visitor_is_sent_to_log_in(client, db):
    response = client.get(LIST_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("count", [1, 20])
def test_call_list_query_count_does_not_grow_with_calls(
    login, alice, django_assert_max_num_queries, count, db
):
    for _ in range(count):
        CallFactory(pools={"H100": 1000, "H200": 1000})
    client = login(alice)

    with django_assert_max_num_queries(6):
        response = client.get(LIST_URL)

    assert response.status_code == 200
