"""Applying through the API names one of the applicant's own organisations.

A foreign or unknown organisation is a field error in the documented shape; any other failure
while looking it up is a server error, never disguised as a field error.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Organisation, User
from booking.models import Application
from tests.error_shape import assert_error
from tests.factories import CallFactory
from tests.fixtures.grants import COMPLETE

pytestmark = pytest.mark.django_db
Api = Callable[[User | None], APIClient]
URL = "/api/v1/applications/"


def _body(organisation_id: int) -> dict[str, object]:
    call = CallFactory(pools={"H100": 10_000})
    today = timezone.localdate()
    fields = {k: str(v) if not isinstance(v, bool | int) else v for k, v in COMPLETE.items()}
    return fields | {
        "call": call.pk,
        "organisation": organisation_id,
        "title": "NorLLM",
        "planned_start": str(today + timedelta(days=7)),
        "planned_end": str(today + timedelta(days=180)),
        "requests": {"H100": "4000"},
    }


def test_applying_for_charlies_organisation_is_a_field_error(
    api: Api, alice: User, charlie_org: Organisation
) -> None:
    response = api(alice).post(URL, _body(charlie_org.pk), format="json")

    body = assert_error(response, 400, "invalid")
    assert body["details"] == {"organisation": ["Apply for one of your organisations."]}
    assert not Application.objects.exists()


def test_applying_for_an_unknown_organisation_is_a_field_error(api: Api, alice: User) -> None:
    response = api(alice).post(URL, _body(987_654), format="json")

    body = assert_error(response, 400, "invalid")
    assert set(body["details"]) == {"organisation"}


def test_an_unexpected_error_looking_up_the_organisation_is_not_a_field_error(
    api: Api, alice: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(user: User, pk: int) -> Organisation:
        raise RuntimeError("selector broke")

    monkeypatch.setattr("booking.grants.api.views.organisation_of", broken)
    organisation_id = alice.memberships.get().organisation_id

    with caplog.at_level(logging.ERROR, logger="stargate_portal.api"):
        response = api(alice).post(URL, _body(organisation_id), format="json")

    body = assert_error(response, 500, "server_error")
    assert "organisation" not in body["details"]
    assert any(
        record.exc_info and isinstance(record.exc_info[1], RuntimeError)
        for record in caplog.records
    )
