"""A NUL where no form or serializer field reads it: in a header, in the address, in the
session cookie. PostgreSQL keeps no NUL in text, so each was a 500 once it reached a query
(an Idempotency-Key looked up, an API token's key, a GPU type named in the address, the
session of a cookie whose value is quoted with an octal escape); now a header or an address
with one is a 400 in the shape of its side, and such a cookie is no session."""

from collections.abc import Callable
from http.cookies import SimpleCookie

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services.tokens import api_token_create
from booking.models import CapacityBooking, Job, Project
from stargate_portal.sessions import SessionStore
from tests.error_shape import assert_error
from tests.fixtures.capacity import booking_body
from tests.fixtures.jobs import job_body

pytestmark = pytest.mark.postgres


def test_an_idempotency_key_with_a_nul_is_refused_and_nothing_is_submitted(
    api: Callable[[User], APIClient], alice: User, alice_project: Project
) -> None:
    client = api(alice)

    refused = client.post(
        "/api/v1/jobs/", job_body(alice_project), format="json", HTTP_IDEMPOTENCY_KEY="run\x0042"
    )

    body = assert_error(refused, 400, "bad_request")
    assert "Idempotency-Key" in body["message"]
    assert "NUL" in body["message"]
    assert not Job.objects.exists()
    # The same submit with a key PostgreSQL can keep is taken, and replayed by that key.
    taken = client.post(
        "/api/v1/jobs/", job_body(alice_project), format="json", HTTP_IDEMPOTENCY_KEY="run-42"
    )
    again = client.post(
        "/api/v1/jobs/", job_body(alice_project), format="json", HTTP_IDEMPOTENCY_KEY="run-42"
    )
    assert taken.status_code == 201
    assert again.json()["id"] == taken.json()["id"]
    assert Job.objects.get().idempotency_key == "run-42"


@pytest.mark.usefixtures("clock")
def test_a_booking_with_a_nul_in_its_idempotency_key_books_nothing(
    api: Callable[[User], APIClient], alice: User, norllm: Project
) -> None:
    refused = api(alice).post(
        "/api/v1/bookings/", booking_body(norllm), format="json", HTTP_IDEMPOTENCY_KEY="plan\x007"
    )

    assert "NUL" in assert_error(refused, 400, "bad_request")["message"]
    assert not CapacityBooking.objects.exists()


def test_an_api_token_with_a_nul_is_refused_before_it_is_looked_up(alice: User) -> None:
    _, token = api_token_create(user=alice, name="laptop", expires_in_days=1)
    client = Client(raise_request_exception=False)

    refused = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token[:8]}\x00{token[9:]}")

    assert "Authorization" in assert_error(refused, 400, "bad_request")["message"]
    signed_in = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert signed_in.json()["email"] == alice.email


def test_an_address_with_a_nul_is_refused_in_the_shape_of_its_side(
    login: Callable[[User], Client], staff: User, h100: object
) -> None:
    client = login(staff)
    client.raise_request_exception = False

    page = client.get("/console/capacity/rules/H100%00/")
    api = client.get("/api/v1/bookings/1%00/")

    assert page.status_code == 400
    assert "The address holds a NUL character." in page.content.decode()
    assert "NUL" in assert_error(api, 400, "bad_request")["message"]
    assert client.get("/console/capacity/rules/H100/").status_code == 200


def _with_session_cookie(value: str) -> Client:
    client = Client(raise_request_exception=False)
    client.cookies = SimpleCookie({settings.SESSION_COOKIE_NAME: value})
    return client


@pytest.mark.parametrize("key", ["abcdefgh\x00ijklmnop", "\x00" * 32, "ABCDEFGH ijklmnop"])
def test_a_session_cookie_with_characters_no_session_key_has_is_no_session(
    key: str, login: Callable[[User], Client], alice: User
) -> None:
    client = _with_session_cookie(key)
    # The test client quotes such a value with octal escapes (``"abcdefgh\000ijklmnop"``), as
    # a browser or a script may send it; Django unquotes it back into a NUL.
    assert "\\000" in client.cookies.output() or " " in key

    page = client.get("/jobs/")
    api = client.get("/api/v1/me/")

    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")
    assert_error(api, 401, "not_authenticated")
    # A key Django made still signs its user in.
    signed_in = login(alice)
    assert signed_in.get("/api/v1/me/").json()["email"] == alice.email


def test_the_session_store_keeps_keys_of_django_s_characters_only(
    django_assert_num_queries: Callable[..., object],
) -> None:
    store = SessionStore()
    store["seen"] = True
    store.create()
    assert store.session_key is not None

    assert SessionStore(store.session_key).load() == {"seen": True}
    for key in ("abcdefgh\x00ijklmnop", store.session_key.upper(), store.session_key + " "):
        with django_assert_num_queries(0):  # no session is looked up for such a key
            assert SessionStore(key).session_key is None
            assert dict(SessionStore(key).items()) == {}
