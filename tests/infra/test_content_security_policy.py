"""Every page sends a Content-Security-Policy that allows scripts and styles from this site
only, and no page needs more: no inline script, no style attribute or element. The browser
tests (tests/e2e) fail on any violation Chromium reports, so the flows prove the pages work."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from booking.models import Application, Project

ROOT = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/(?:ld\+)?json)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)


def directives(response: object) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def assert_strict_policy(response: object) -> None:
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]


def assert_nothing_inline(response: object) -> None:
    html = response.content.decode()  # type: ignore[attr-defined]
    assert INLINE_SCRIPT.findall(html) == []
    assert INLINE_STYLE.findall(html) == []


@pytest.mark.django_db
def test_anonymous_pages_send_the_policy_and_need_nothing_inline(client: Client) -> None:
    for url in ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        response = client.get(url)

        assert response.status_code == 200, url
        assert_strict_policy(response)
        assert_nothing_inline(response)


def test_the_api_documentation_runs_without_an_inline_script(client: Client, db: None) -> None:
    response = client.get("/api/docs/")

    assert_strict_policy(response)
    assert_nothing_inline(response)


def test_portal_and_console_pages_send_the_policy_and_need_nothing_inline(
    login: Callable[[User], Client],
    alice: User,
    staff: User,
    project: Project,
    portal_submitted: Application,
) -> None:
    portal = [
        reverse("portal:dashboard"),
        reverse("grants:call_list"),
        reverse("grants:project_detail", args=[project.pk]),
        reverse("grants:application_detail", args=[portal_submitted.pk]),
        reverse("jobs:job_list"),
        reverse("jobs:job_submit"),
    ]
    for url in portal:
        response = login(alice).get(url)
        assert response.status_code == 200, url
        assert_strict_policy(response)
        assert_nothing_inline(response)
    for url in ("/console/", "/console/grants/", "/console/cluster/"):
        response = login(staff).get(url)
        assert response.status_code == 200, url
        assert_strict_policy(response)
        assert_nothing_inline(response)


def test_no_template_has_an_inline_script_or_style() -> None:
    offending = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "templates").rglob("*.html"))
        if INLINE_SCRIPT.search(path.read_text()) or INLINE_STYLE.search(path.read_text())
    ]

    assert offending == []
