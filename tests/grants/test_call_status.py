"""One rule decides whether a call accepts applications (``Call.accepts_submissions``), and
the state every page and the API show follows it: a call staff opened ahead of its opening
time shows ``upcoming``, never ``open``, while applying to it is refused."""

from collections.abc import Callable
from datetime import timedelta
from itertools import product

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from booking.models import Call, CallState, CallStatus
from tests.error_shape import assert_error
from tests.factories import CallFactory
from tests.pages import page_text

pytestmark = pytest.mark.django_db
Api = Callable[[User | None], APIClient]


@pytest.fixture
def upcoming() -> Call:
    return CallFactory(
        title="Opens next week",
        opens_at=timezone.now() + timedelta(days=7),
        closes_at=timezone.now() + timedelta(days=30),
    )


def test_a_call_opened_before_its_opening_time_shows_upcoming_and_refuses_applications(
    api: Api, alice: User, upcoming: Call
) -> None:
    shown = api(alice).get(f"/api/v1/calls/{upcoming.pk}/").json()
    applied = api(alice).post(
        "/api/v1/applications/",
        {
            "call": upcoming.pk,
            "organisation": alice.memberships.get().organisation_id,
            "title": "T",
        },
        format="json",
    )

    assert shown["state"] == "upcoming"
    assert shown["accepts_submissions"] is False
    assert_error(applied, 409, "call_closed")


def test_the_state_filter_and_the_open_filter_follow_the_same_rule(
    api: Api, alice: User, upcoming: Call
) -> None:
    accepting = CallFactory(title="Accepting")
    CallFactory(title="Past deadline", closes_at=timezone.now() - timedelta(hours=1))
    client = api(alice)

    def titles(query: str) -> list[str]:
        return [c["title"] for c in client.get(f"/api/v1/calls/?{query}").json()["results"]]

    assert titles("open=true") == titles("state=open") == [accepting.title]
    assert titles("state=upcoming") == ["Opens next week"]
    assert titles("state=closed") == ["Past deadline"]


def test_the_portal_and_the_console_say_when_an_upcoming_call_opens(
    login: Callable[[User], object], alice: User, staff: User, upcoming: Call
) -> None:
    portal = page_text(login(alice).get(reverse("grants:call_detail", args=[upcoming.pk])))  # type: ignore[attr-defined]
    console = page_text(login(staff).get(reverse("grants_console:call_list")))  # type: ignore[attr-defined]

    for text in (portal, console):
        assert "Open for applications" not in text
        assert "Opens " in text


def test_status_is_open_exactly_when_the_call_accepts_submissions_and_sql_agrees() -> None:
    now = timezone.now()
    hour = timedelta(hours=1)
    calls = [
        CallFactory(
            state=state,
            kind="rolling" if closes is None else "standard",
            opens_at=now + opens,
            closes_at=None if closes is None else now + closes,
        )
        for state, opens, closes in product(
            CallState.values, (-2 * hour, 2 * hour), (None, -hour, 3 * hour)
        )
        if closes is None or closes > opens
    ]

    for call in calls:
        status = call.status(now)
        assert (status == CallStatus.OPEN) == call.accepts_submissions(now), call
        for candidate in CallStatus.values:
            in_sql = Call.objects.with_status(candidate, now).filter(pk=call.pk).exists()
            assert in_sql == (status == candidate), (call.state, status, candidate)
    accepting = set(Call.objects.accepting_submissions(now).values_list("pk", flat=True))
    assert accepting == {c.pk for c in calls if c.accepts_submissions(now)}
