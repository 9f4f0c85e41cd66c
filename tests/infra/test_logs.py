"""Structured logs: one line per request and per task, with the correlation id that 500
answers show, the user id and the duration; JSON in production."""

import json
import logging
import logging.config
import re
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from accounts import selectors
from accounts.models import User
from accounts.services.tokens import api_token_create
from booking.admission.tasks import admission_cycles_prune
from stargate_portal import errorpages
from stargate_portal.logs import (
    CORRELATION_HEADER,
    USER_HEADER,
    ContextFilter,
    RequestLogMiddleware,
    task_headers_add,
)

REQUESTS = "stargate_portal.requests"
TASKS = "stargate_portal.tasks"


def lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == logger]


@pytest.mark.django_db
def test_each_request_is_one_line_with_its_correlation_id_user_and_duration(
    alice: User, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    client.force_login(alice)

    with caplog.at_level(logging.INFO, logger=REQUESTS):
        response = client.get("/jobs/")

    assert response.status_code == 200
    (line,) = lines(caplog, REQUESTS)
    assert line.correlation_id == response["X-Request-ID"]  # type: ignore[attr-defined]
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert line.user_id == alice.pk  # type: ignore[attr-defined]
    assert line.duration_ms > 0  # type: ignore[attr-defined]
    assert (line.method, line.path, line.status) == ("GET", "/jobs/", 200)  # type: ignore[attr-defined]
    assert line.view == "jobs:job_list"  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_an_api_request_with_a_token_logs_the_token_s_user(
    alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    client = APIClient()
    _token, clear_text = api_token_create(user=alice, name="cli", expires_in_days=1)
    client.credentials(HTTP_AUTHORIZATION=f"Token {clear_text}")

    with caplog.at_level(logging.INFO, logger=REQUESTS):
        assert client.get("/api/v1/me/").status_code == 200

    (line,) = lines(caplog, REQUESTS)
    assert line.user_id == alice.pk  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_a_request_that_never_asked_who_is_signed_in_does_not_look_it_up(
    alice: User, client: Client, caplog: pytest.LogCaptureFixture, django_assert_num_queries: Any
) -> None:
    client.force_login(alice)

    with caplog.at_level(logging.INFO, logger=REQUESTS), django_assert_num_queries(1):
        client.get("/healthz")  # its one query is the database check

    (line,) = lines(caplog, REQUESTS)
    assert line.user_id is None  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_a_500_answer_quotes_the_correlation_id_of_its_log_lines(
    alice: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(user: User) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "memberships_of", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(alice)

    with caplog.at_level(logging.INFO):
        response = client.get("/api/v1/me/")

    assert response.status_code == 500
    correlation_id = response.json()["details"]["correlation_id"]
    assert response["X-Request-ID"] == correlation_id
    (line,) = lines(caplog, REQUESTS)
    assert line.correlation_id == correlation_id  # type: ignore[attr-defined]
    assert line.status == 500  # type: ignore[attr-defined]
    (error,) = [r for r in caplog.records if r.name == "stargate_portal.api"]
    ContextFilter().filter(error)  # what the console handler adds to every line
    assert error.correlation_id == correlation_id  # type: ignore[attr-defined]


def test_the_500_page_shows_the_correlation_id_of_the_request() -> None:
    seen = {}

    def view(request: HttpRequest) -> HttpResponse:
        response = errorpages.server_error(request)
        seen["body"] = response.content.decode()
        return response

    response = RequestLogMiddleware(view)(RequestFactory().get("/api/v1/anything/"))

    assert response.status_code == 500
    assert response["X-Request-ID"] in seen["body"]


def test_a_request_id_from_a_trusted_proxy_becomes_the_correlation_id(settings: Any) -> None:
    settings.REQUEST_ID_HEADER = "X-Request-ID"
    middleware = RequestLogMiddleware(lambda request: HttpResponse("ok"))

    trusted = middleware(RequestFactory().get("/", HTTP_X_REQUEST_ID="nginx-4f2a9c"))
    odd = middleware(RequestFactory().get("/", HTTP_X_REQUEST_ID="<script>"))

    assert trusted["X-Request-ID"] == "nginx-4f2a9c"
    assert re.fullmatch(r"[0-9a-f]{32}", odd["X-Request-ID"])


def test_a_task_queued_during_a_request_carries_its_correlation_id() -> None:
    headers: dict[str, Any] = {}

    def view(request: HttpRequest) -> HttpResponse:
        task_headers_add(headers=headers)
        return HttpResponse("queued")

    response = RequestLogMiddleware(view)(RequestFactory().get("/"))

    assert headers[CORRELATION_HEADER] == response["X-Request-ID"]
    assert USER_HEADER not in headers  # nobody is signed in


@pytest.mark.django_db
def test_each_task_is_one_line_with_its_state_and_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger=TASKS):
        result = admission_cycles_prune.delay()

    (line,) = lines(caplog, TASKS)
    assert line.task == "booking.admission.tasks.admission_cycles_prune"  # type: ignore[attr-defined]
    assert line.state == "SUCCESS"  # type: ignore[attr-defined]
    assert line.duration_ms >= 0  # type: ignore[attr-defined]
    assert line.correlation_id == result.id  # type: ignore[attr-defined]


def test_production_writes_each_line_as_one_json_object() -> None:
    assert settings.LOG_FORMAT == "json"  # DEBUG is off in the test settings, as in production
    config = logging.config.DictConfigurator(settings.LOGGING)
    formatter = config.configure_formatter(settings.LOGGING["formatters"]["json"])
    record = logging.LogRecord(REQUESTS, logging.INFO, __file__, 1, "GET / 200 3 ms", (), None)
    record.correlation_id, record.user_id, record.duration_ms = "abc123", 7, 3.2

    line = formatter.format(record)

    assert "\n" not in line
    assert json.loads(line) == {
        "level": "INFO",
        "logger": REQUESTS,
        "message": "GET / 200 3 ms",
        "correlation_id": "abc123",
        "user_id": 7,
        "duration_ms": 3.2,
        "timestamp": json.loads(line)["timestamp"],
    }
