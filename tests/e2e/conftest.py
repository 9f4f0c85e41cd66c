"""Browser fixtures: a real headless Debian Chromium driven by Playwright against live_server.

Under ``CI=true`` a missing Chromium fails the test; elsewhere it skips with the reason.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connections

from tests.conftest import require_service

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture
def allow_sync_orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    """Playwright's sync API runs an event loop in this thread; the ORM then refuses to run."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser(allow_sync_orm_beside_playwright: None) -> Iterator[object]:
    require_service(CHROMIUM.exists(), f"needs Debian chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(transactional_db, live_server, browser) -> Iterator[object]:
    """A fresh browser page whose relative URLs go to the live server.

    The cookies stay Secure as in production: Chromium accepts them from http://localhost.
    """
    cache.clear()  # allauth's rate limits count in the cache
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    # Every flow also proves the Content-Security-Policy lets the pages work: Chromium reports
    # anything it blocked as a console error.
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        yield page
        assert violations == [], "the Content-Security-Policy blocked something"
    finally:
        context.close()
        cache.clear()
        # Code under Playwright runs in a greenlet with its own context, so the ORM opened a
        # second connection here; close it, or PostgreSQL refuses to drop the test database.
        connections.close_all()


@pytest.fixture
def screenshot(page):
    """``screenshot(name)``: save the full page to tests/e2e/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def save(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
