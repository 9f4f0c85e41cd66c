"""The badges and times lists show on every row are filters (``tier_badge``, ``job_state_badge``,
``utc_time``): the markup the pages had from their included templates, escaped."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.template import Context, Template

from accounts.tiers import PriorityTier
from booking.models import Job, JobState


def _render(source: str, **context: object) -> str:
    return Template("{% load job_display tier_display %}" + source).render(Context(context))


def test_a_tier_badge_names_the_tier_and_is_coloured_by_it() -> None:
    assert _render("{{ tier|tier_badge }}", tier=PriorityTier.EUROPEAN_STARTUP) == (
        '<span class="tier tier--2">Tier 2 · European startup</span>'
    )
    assert _render("{{ tier|tier_badge }}", tier=4) == (
        '<span class="tier tier--4">Tier 4 · International or unverified</span>'
    )
    assert _render("[{{ tier|tier_badge }}]", tier=None) == "[]"
    assert _render("{{ tier|tier_badge }}", tier=99) == '<span class="tier">99</span>'
    assert _render("{{ tier|tier_badge }}", tier="<b>") == '<span class="tier">&lt;b&gt;</span>'


def test_a_job_state_badge_says_the_state_in_words() -> None:
    job = Job(state=JobState.PENDING)

    assert _render("{{ job|job_state_badge }}", job=job) == (
        '<span class="badge badge--job-pending">Pending</span>'
    )


def test_a_time_is_a_time_element_in_utc_and_a_dash_when_there_is_none() -> None:
    at = datetime(2026, 3, 2, 19, 0, 5, tzinfo=UTC)

    assert _render("{{ at|utc_time }}", at=at) == (
        '<time datetime="2026-03-02T19:00:05+00:00">2026-03-02 19:00 UTC</time>'
    )
    assert _render("{{ at|utc_time }}", at=None) == "—"
    oslo = datetime(2026, 3, 2, 20, 0, 5, 250_000, tzinfo=ZoneInfo("Europe/Oslo"))
    assert _render("{{ at|utc_time }}", at=oslo) == (
        '<time datetime="2026-03-02T19:00:05.250000+00:00">2026-03-02 19:00 UTC</time>'
    )


def test_a_state_from_the_database_is_escaped_like_any_text() -> None:
    job = Job(state='pending"><script>')

    assert "<script>" not in _render("{{ job|job_state_badge }}", job=job)
