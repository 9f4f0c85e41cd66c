"""A shared-cache outage never fails a request: reads miss, writes are dropped, /healthz says
"degraded", and the cache is used again as soon as Redis is back.

Each test runs its own ``redis-server`` and points the cache at it with the production cache
settings (``cache_settings``, as ``settings.py`` builds them from ``CACHE_URL``), then stops it.
"""

import logging
import socket
import time

import pytest
from django.core.cache import cache
from django.test import Client
from pytest_django import Settings

from accounts.models import User
from booking.admission import receivers
from booking.models import Job, JobState, Project
from stargate_portal.cache_config import cache_settings
from stargate_portal.logs import OncePerInterval
from tests.fixtures.jobs import CycleRequests, job_body, queue
from tests.fixtures.redis import RedisServer, keys_in, point_the_cache_at

PASSWORD = "correct horse battery staple"


@pytest.mark.redis
def test_a_redis_cache_url_is_read_as_a_cache_that_ignores_its_outages(
    shared_cache: RedisServer,
) -> None:
    parsed = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://r/1"}
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": ""}

    built = cache_settings(parsed, timeout_seconds=0.5)

    assert built["BACKEND"] == "stargate_portal.cache.OutageTolerantRedisCache"
    assert built["LOCATION"] == "redis://r/1"
    assert built["OPTIONS"]["IGNORE_EXCEPTIONS"] is True
    assert cache_settings(local, timeout_seconds=0.5) == local
    cache.set("probe", 42)
    assert cache.get("probe") == 42
    assert any(key.endswith("probe") for key in keys_in(shared_cache))


@pytest.mark.redis
def test_while_the_cache_is_down_every_kind_of_request_answers(
    shared_cache: RedisServer,
    alice: User,
    alice_project: Project,
    staff: User,
    api,
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue(alice, alice_project)
    researcher = api(alice)
    assert researcher.get("/api/v1/jobs/").status_code == 200
    assert any(":throttle:" in key for key in keys_in(shared_cache))  # counted in Redis
    shared_cache.stop()

    with caplog.at_level(logging.ERROR, logger="stargate_portal.cache"):
        listed = researcher.get("/api/v1/jobs/")
        submitted = researcher.post("/api/v1/jobs/", job_body(alice_project), format="json")
        console = Client()
        console.force_login(staff)
        fair_share = console.get("/console/cluster/fair-share/")
        public = Client().get("/transparency/")
        alice.set_password(PASSWORD)
        alice.save()
        logged_in = Client().post("/accounts/login/", {"login": alice.email, "password": PASSWORD})
        health = Client().get("/healthz")

    assert listed.status_code == 200
    assert len(listed.json()["results"]) == 1
    assert submitted.status_code == 201, submitted.content[:300]
    assert Job.objects.filter(pk=submitted.json()["id"], state=JobState.PENDING).exists()
    assert fair_share.status_code == 200
    assert alice_project.name in fair_share.content.decode()
    assert public.status_code == 200
    assert logged_in.status_code == 302
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["cache"] == "unavailable"
    assert health.json()["checks"]["database"] == "ok"
    assert any(r.name == "stargate_portal.cache" for r in caplog.records)


@pytest.mark.redis
def test_the_cache_is_used_again_once_redis_is_back(
    shared_cache: RedisServer, db: None, settings: Settings
) -> None:
    settings.CACHE_OUTAGE_SECONDS = 0.5
    cache.set("before", 1)
    shared_cache.stop()
    cache.set("during", 2)
    assert cache.get("before") is None
    assert Client().get("/healthz").json()["checks"]["cache"] == "unavailable"

    shared_cache.start()  # same port, empty (no persistence)
    # Until CACHE_OUTAGE_SECONDS have passed since the last failure, Redis is left alone.
    cache.set("early", 3)
    assert keys_in(shared_cache) == []
    time.sleep(0.6)

    cache.set("after", 3)
    assert cache.get("after") == 3
    assert cache.get("during") is None
    assert Client().get("/healthz").json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "cache": "ok"},
    }


@pytest.mark.redis
def test_a_cache_that_accepts_but_never_answers_costs_a_request_its_timeouts_not_a_hang(
    settings: Settings, alice: User, alice_project: Project, api
) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes connections; nothing ever reads or answers
    try:
        point_the_cache_at(settings, f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        client = api(alice)
        timed = []
        for _ in range(4):
            started = time.monotonic()
            response = client.get("/api/v1/jobs/")
            timed.append(time.monotonic() - started)
            assert response.status_code == 200
            assert response.json()["results"] == []
    finally:
        silent.close()

    # The first request waits for a cache call's timeout (0.5 s), not the OS's TCP timeout;
    # the failure makes the process leave Redis alone for CACHE_OUTAGE_SECONDS, so the next
    # requests do not wait at all (each made a throttle read and write, 0.5 s each before).
    assert 0.5 <= timed[0] < 5
    assert all(seconds < 0.5 for seconds in timed[1:]), timed


@pytest.mark.redis
def test_submits_while_the_cache_is_down_ask_for_one_cycle_per_debounce_window(
    shared_cache: RedisServer,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    alice: User,
    alice_project: Project,
    api,
    django_capture_on_commit_callbacks,
) -> None:
    settings.ADMISSION_ON_SUBMIT = True
    settings.ADMISSION_DEBOUNCE_SECONDS = 30.0
    requests = CycleRequests()
    monkeypatch.setattr(receivers, "admission_cycle_run", requests)
    shared_cache.stop()
    assert cache.add("claim", 1) is True  # granted while Redis is down (allauth's lock)
    assert cache.add("claim", 1) is True

    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            response = api(alice).post("/api/v1/jobs/", job_body(alice_project), format="json")
        assert response.status_code == 201

    assert Job.objects.filter(state=JobState.PENDING).count() == 3
    assert requests.countdowns == [30.0]


def test_a_repeating_failure_is_logged_once_per_interval_with_the_count_held_back() -> None:
    once = OncePerInterval(seconds=60)

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("stargate_portal.cache", logging.ERROR, "", 0, message, (), None)

    first, second, third = record("Exception ignored"), record("again"), record("again")
    assert once.filter(first) is True
    assert once.filter(second) is False
    assert once.filter(third) is False
    once._last -= 61  # a minute later
    later = record("Exception ignored")
    assert once.filter(later) is True
    assert later.getMessage() == "Exception ignored (2 more like it not logged)"
