"""Every API error has the shape {"code", "message", "details"}, whatever went wrong."""

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import RequestFactory
from pytest_django import Settings
from rest_framework.test import APIClient

from accounts import selectors
from accounts.models import Organisation, User
from stargate_portal import errorpages
from stargate_portal.api.throttling import AnonRateThrottle, UserRateThrottle
from tests.error_shape import assert_error

Api = Callable[[User | None], APIClient]


def test_invalid_input_is_400_with_field_errors_in_details(api: Api, alice: User) -> None:
    response = api(alice).post(
        "/api/v1/organisations/",
        {"name": "x" * 201, "kind": "spaceship", "country": "NO", "founded_on": "yesterday"},
    )

    body = assert_error(response, 400, "invalid")
    assert body["message"] == "The request is invalid; see details."
    assert set(body["details"]) == {"name", "kind", "founded_on"}
    assert all(isinstance(m, str) for messages in body["details"].values() for m in messages)


def test_malformed_json_is_400_parse_error(api: Api, alice: User) -> None:
    response = api(alice).post(
        "/api/v1/organisations/", data="{not json", content_type="application/json"
    )

    assert "JSON parse error" in assert_error(response, 400, "parse_error")["message"]


def test_an_unsupported_media_type_is_415(api: Api, alice: User) -> None:
    response = api(alice).post("/api/v1/tokens/", data="name=x", content_type="text/plain")

    assert_error(response, 415, "unsupported_media_type")


def test_no_credentials_is_401_not_authenticated(api: Api, db: None) -> None:
    response = api(None).get("/api/v1/organisations/")

    body = assert_error(response, 401, "not_authenticated")
    assert body["message"] == "Authentication credentials were not provided."
    assert response["WWW-Authenticate"] == "Token"


def test_a_malformed_token_header_is_401_authentication_failed(db: None) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token")

    body = assert_error(client.get("/api/v1/me/"), 401, "authentication_failed")
    assert "No credentials provided" in body["message"]


def test_a_forbidden_action_is_403(api: Api, alice: User) -> None:
    assert_error(api(alice).get("/api/v1/staff/organisations/"), 403, "permission_denied")


def test_a_foreign_object_is_404(api: Api, charlie: User, alice_org: Organisation) -> None:
    body = assert_error(
        api(charlie).get(f"/api/v1/organisations/{alice_org.pk}/"), 404, "not_found"
    )

    assert body["details"] == {}


def test_an_unknown_api_url_is_a_json_404_from_the_project_handler(
    api: Api, alice: User, settings: Settings
) -> None:
    settings.DEBUG = False

    response = api(alice).get("/api/v1/nope/")

    assert assert_error(response, 404, "not_found")["message"] == "Not found."


def test_a_server_error_outside_drf_under_api_has_the_error_shape() -> None:
    response = errorpages.server_error(RequestFactory().get("/api/v1/me/"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert b'"code": "server_error"' in response.content


def test_a_method_not_allowed_is_405(api: Api, alice: User) -> None:
    body = assert_error(api(alice).delete("/api/v1/me/"), 405, "method_not_allowed")

    assert body["message"] == 'Method "DELETE" not allowed.'


def test_a_refused_state_change_is_409_with_its_own_code(api: Api, alice: User) -> None:
    membership = alice.memberships.get()
    url = f"/api/v1/organisations/{membership.organisation_id}/members/{membership.pk}/"

    body = assert_error(api(alice).delete(url), 409, "last_owner")

    assert body["message"] == "An organisation must keep at least one owner."


def test_too_many_requests_are_429_with_the_wait_in_details(
    api: Api, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The throttle classes read their rates once at import: patch the class, not settings.
    monkeypatch.setattr(UserRateThrottle, "rate", "2/min", raising=False)
    client = api(alice)
    start = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)

    with time_machine.travel(start, tick=False):
        assert [client.get("/api/v1/me/").status_code for _ in range(2)] == [200, 200]
        response = client.get("/api/v1/me/")

    body = assert_error(response, 429, "throttled")
    wait = body["details"]["retry_after_seconds"]
    assert 1 <= wait <= 60  # until the client's minute ends
    assert response["Retry-After"] == str(wait)
    with time_machine.travel(start + timedelta(seconds=wait - 1), tick=False):
        assert client.get("/api/v1/me/").status_code == 429
    with time_machine.travel(start + timedelta(seconds=wait), tick=False):
        assert client.get("/api/v1/me/").status_code == 200


def test_anonymous_requests_are_throttled_too(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AnonRateThrottle, "rate", "1/min", raising=False)
    client = APIClient(HTTP_ACCEPT="application/json")  # the schema is public, so anonymous

    assert client.get("/api/schema/").status_code == 200
    assert_error(client.get("/api/schema/"), 429, "throttled")


def test_an_unexpected_error_is_500_with_a_correlation_id_and_no_traceback(
    alice: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(user: User) -> None:
        raise RuntimeError("the database password is hunter2")

    monkeypatch.setattr(selectors, "memberships_of", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(alice)

    with caplog.at_level(logging.ERROR, logger="stargate_portal.api"):
        response = client.get("/api/v1/me/")

    body = assert_error(response, 500, "server_error")
    correlation_id = body["details"]["correlation_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", correlation_id)
    assert "correlation id" in body["message"]
    content = response.content.decode()
    assert "Traceback" not in content
    assert "hunter2" not in content
    assert "RuntimeError" not in content
    (record,) = [r for r in caplog.records if correlation_id in r.getMessage()]
    assert record.exc_info is not None
