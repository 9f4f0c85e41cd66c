"""Hostile bodies get a 4xx in the error shape on every write endpoint, never a 500.

The bounds live in one parser (``stargate_portal/api/parsers.py``): JSON only, at most
``API_MAX_BODY_BYTES``, nested at most ``API_MAX_JSON_DEPTH`` deep, and no unpaired surrogate
anywhere in its text.
"""

import json
from collections.abc import Callable
from typing import Any

import pytest
from pytest_django import Settings
from rest_framework.test import APIClient

from accounts.models import User
from tests.error_shape import assert_error

Api = Callable[[User | None], APIClient]
WRITE_METHODS = ("post", "put", "patch")


def write_operations() -> list[tuple[str, str]]:
    """Every write operation of the API that takes a JSON body and names no object (those
    answer 404 for a missing object before reading the body; the issue's cases are below)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, item in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if method in WRITE_METHODS and "application/json" in content and "{" not in path:
                found.append((method, path))
    return sorted(found)


def send(client: APIClient, method: str, path: str, body: str) -> Any:
    return getattr(client, method)(path, data=body, content_type="application/json")


def test_every_write_operation_is_found() -> None:
    operations = write_operations()

    assert ("post", "/api/v1/jobs/") in operations
    assert ("post", "/api/v1/staff/calls/") in operations
    assert len(operations) > 5


@pytest.mark.parametrize(("method", "path"), write_operations())
def test_deeply_nested_json_is_a_parse_error_on_every_write_endpoint(
    api: Api, staff: User, method: str, path: str
) -> None:
    response = send(api(staff), method, path, "[" * 50_000)

    assert_error(response, 400, "parse_error")


@pytest.mark.parametrize(("method", "path"), write_operations())
def test_a_lone_surrogate_is_a_parse_error_on_every_write_endpoint(
    api: Api, staff: User, method: str, path: str
) -> None:
    body = json.dumps({"role": "\ud800", "kind": "x\udfff", "\ud800": 1})

    response = send(api(staff), method, path, body)

    error = assert_error(response, 400, "parse_error")
    assert "surrogate" in error["message"]
    assert "\\ud800" not in response.content.decode()


def test_a_lone_surrogate_in_a_choice_field_is_400_not_500(
    api: Api, alice: User, dave: User, staff: User
) -> None:
    membership = dave.memberships.get()
    org = membership.organisation_id
    cases = [
        (alice, "patch", f"/api/v1/organisations/{org}/members/{membership.pk}/", "role"),
        (alice, "patch", f"/api/v1/organisations/{org}/", "kind"),
        (alice, "patch", f"/api/v1/organisations/{org}/", "country"),
        (staff, "post", f"/api/v1/staff/organisations/{org}/verification/", "decision"),
        (staff, "post", "/api/v1/staff/calls/", "kind"),
        (alice, "post", "/api/v1/applications/", "ai_act_risk"),
    ]
    for user, method, path, field in cases:
        response = send(api(user), method, path, json.dumps({field: "\ud800"}))

        assert_error(response, 400, "parse_error")


def test_a_lone_surrogate_as_a_dictionary_key_is_refused(api: Api, staff: User) -> None:
    body = '{"title": "t", "pools": {"\\udc00": 1}}'

    assert_error(send(api(staff), "post", "/api/v1/staff/calls/", body), 400, "parse_error")


def test_properly_paired_surrogates_are_ordinary_text(api: Api, alice: User) -> None:
    response = send(api(alice), "post", "/api/v1/tokens/", '{"name": "laptop \\ud83d\\ude80"}')

    assert response.status_code == 201, response.content
    assert response.json()["name"] == "laptop \U0001f680"


def test_nesting_just_within_the_bound_is_parsed(api: Api, alice: User, settings: Settings) -> None:
    settings.API_MAX_JSON_DEPTH = 3
    within = '{"name": "t", "x": {"y": [1]}}'
    beyond = '{"name": "t", "x": {"y": [[1]]}}'

    assert send(api(alice), "post", "/api/v1/tokens/", within).status_code == 201
    error = assert_error(send(api(alice), "post", "/api/v1/tokens/", beyond), 400, "parse_error")
    assert "at most 3 levels" in error["message"]


def test_a_body_over_the_size_bound_is_413(api: Api, alice: User, settings: Settings) -> None:
    settings.API_MAX_BODY_BYTES = 1000
    body = json.dumps({"name": "x" * 2000})

    error = assert_error(
        send(api(alice), "post", "/api/v1/tokens/", body), 413, "request_too_large"
    )
    assert "x" * 20 not in error["message"]


def test_numbers_beyond_a_float_are_a_parse_error(api: Api, alice: User) -> None:
    for body in ('{"name": "t", "expires_in_days": 1e999}', '{"name": NaN}'):
        assert_error(send(api(alice), "post", "/api/v1/tokens/", body), 400, "parse_error")


def test_form_encoded_bodies_are_refused_by_the_json_api(api: Api, alice: User) -> None:
    response = api(alice).post(
        "/api/v1/tokens/", data="name=x", content_type="application/x-www-form-urlencoded"
    )

    assert_error(response, 415, "unsupported_media_type")


def test_an_attachment_body_larger_than_an_attachment_may_be_is_413_before_reading(
    api: Api, alice: User, settings: Settings
) -> None:
    settings.APPLICATION_ATTACHMENT_MAX_BYTES = 10
    client = api(alice)

    response = client.put(
        "/api/v1/applications/1/attachment/",
        data=b"x" * 200_000,
        content_type="multipart/form-data; boundary=xyz",
    )

    assert_error(response, 413, "request_too_large")


@pytest.mark.parametrize("offset", ["-22:53", "+15:00", "+23:59"])
def test_a_datetime_filter_with_an_impossible_offset_is_400_not_500(
    api: Callable[[User | None], APIClient], alice: User, norllm: Any, offset: str
) -> None:
    """Found by the fuzzer: PostgreSQL refuses offsets beyond ±15:59, Python allows ±23:59."""
    for url in (
        f"/api/v1/bookings/?ends_after=0561-12-03T22:31:40{offset}",
        f"/api/v1/projects/{norllm.pk}/ledger/?created_after=2026-01-01T00:00:00{offset}",
    ):
        response = api(alice).get(url.replace("+", "%2B"))
        assert_error(response, 400, "invalid")


def test_a_datetime_filter_compares_in_utc_whatever_offset_it_was_given(
    api: Callable[[User | None], APIClient], alice: User, norllm: Any
) -> None:
    """The same instant written with two offsets selects the same entries."""
    client = api(alice)
    as_utc = client.get(f"/api/v1/projects/{norllm.pk}/ledger/?created_before=2030-01-01T12:00:00Z")
    as_kiribati = client.get(
        f"/api/v1/projects/{norllm.pk}/ledger/?created_before=2030-01-02T02:00:00%2B14:00"
    )
    assert as_utc.status_code == as_kiribati.status_code == 200
    assert as_utc.json()["count"] == as_kiribati.json()["count"] > 0
