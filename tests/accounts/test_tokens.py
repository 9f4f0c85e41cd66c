"""API tokens: shown once, stored as a digest, expiring, revocable, purged when expired."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from knox.crypto import hash_token
from rest_framework.test import APIClient

from accounts.api.authentication import ApiTokenAuthentication
from accounts.models import ApiToken, User
from accounts.services.tokens import api_token_create, api_token_revoke
from accounts.tasks import api_tokens_purge_expired
from stargate_portal.errors import NotFound, ValidationFailed
from tests.error_shape import assert_error

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


def token_client(clear_text: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {clear_text}")
    return client


def test_a_new_token_is_returned_in_clear_once_and_only_its_digest_is_stored(alice: User) -> None:
    token, clear_text = api_token_create(user=alice, name="laptop")

    assert clear_text.startswith("sgp_")
    assert len(clear_text) > 40
    assert token.digest == hash_token(clear_text)
    assert clear_text.startswith(token.token_key)  # a short prefix, to recognise it in lists
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert not [column for column, value in stored.items() if clear_text in str(value)]


def test_a_token_authenticates_its_owner(alice: User) -> None:
    _, clear_text = api_token_create(user=alice, name="laptop")

    response = token_client(clear_text).get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json()["email"] == "alice@uio.no"


def test_a_token_expires_after_the_days_asked_for(alice: User) -> None:
    with time_machine.travel(NOW, tick=False):
        token, clear_text = api_token_create(user=alice, name="ci", expires_in_days=7)
    assert token.expiry == NOW + timedelta(days=7)

    with time_machine.travel(NOW + timedelta(days=7) - timedelta(seconds=1), tick=False):
        assert token_client(clear_text).get("/api/v1/me/").status_code == 200

    with time_machine.travel(NOW + timedelta(days=7, seconds=1), tick=False):
        response = token_client(clear_text).get("/api/v1/me/")

    body = assert_error(response, 401, "authentication_failed")
    assert body["message"] == "Invalid token."
    assert response["WWW-Authenticate"] == "Token"
    # Refused without a write on the request's path; the beat task purges it.
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_a_token_is_checked_in_one_query_whatever_other_tokens_the_user_has(
    alice: User, django_assert_num_queries: Any
) -> None:
    with time_machine.travel(NOW, tick=False):
        api_token_create(user=alice, name="old", expires_in_days=1)
    for name in ("laptop", "ci", "notebook"):
        api_token_create(user=alice, name=name)
    _, clear_text = api_token_create(user=alice, name="cluster")
    client = token_client(clear_text)
    client.get("/api/v1/me/")

    with django_assert_num_queries(1):
        user, token = ApiTokenAuthentication().authenticate_credentials(clear_text.encode())

    assert (user, token.name) == (alice, "cluster")
    assert ApiToken.objects.filter(user=alice).count() == 5  # nothing deleted on the way


def test_a_token_with_a_known_prefix_but_another_secret_is_refused(alice: User) -> None:
    _, clear_text = api_token_create(user=alice, name="laptop")
    forged = clear_text[:-4] + ("aaaa" if not clear_text.endswith("aaaa") else "bbbb")

    assert_error(token_client(forged).get("/api/v1/me/"), 401, "authentication_failed")


def test_a_revoked_token_no_longer_authenticates(alice: User) -> None:
    token, clear_text = api_token_create(user=alice, name="laptop")

    api_token_revoke(user=alice, public_id=token.public_id)

    assert_error(token_client(clear_text).get("/api/v1/me/"), 401, "authentication_failed")
    assert not ApiToken.objects.exists()


def test_another_user_cannot_revoke_a_token(alice: User, bob: User) -> None:
    token, clear_text = api_token_create(user=alice, name="laptop")

    with pytest.raises(NotFound):
        api_token_revoke(user=bob, public_id=token.public_id)

    assert token_client(clear_text).get("/api/v1/me/").status_code == 200


def test_another_user_revoking_through_the_api_gets_404(alice: User, bob: User) -> None:
    token, clear_text = api_token_create(user=alice, name="laptop")
    client = APIClient()
    client.force_authenticate(bob)

    response = client.delete(f"/api/v1/tokens/{token.public_id}/")

    assert_error(response, 404, "not_found")
    assert token_client(clear_text).get("/api/v1/me/").status_code == 200


def test_a_made_up_token_is_refused(alice: User) -> None:
    api_token_create(user=alice, name="laptop")

    response = token_client("sgp_" + "x" * 60).get("/api/v1/me/")

    assert_error(response, 401, "authentication_failed")


@pytest.mark.parametrize(
    ("name", "days", "field"),
    [("  ", 30, "name"), ("ci", 0, "expires_in_days"), ("ci", 366, "expires_in_days")],
)
def test_a_token_needs_a_name_and_a_life_of_one_day_to_a_year(
    alice: User, name: str, days: int, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        api_token_create(user=alice, name=name, expires_in_days=days)

    assert field in refused.value.details
    assert not ApiToken.objects.exists()


def test_purging_deletes_only_expired_tokens_and_is_safe_to_run_twice(
    alice: User, bob: User
) -> None:
    with time_machine.travel(NOW, tick=False):
        api_token_create(user=alice, name="short", expires_in_days=1)
        api_token_create(user=bob, name="short", expires_in_days=2)
        api_token_create(user=alice, name="long", expires_in_days=30)

    with time_machine.travel(NOW + timedelta(days=3), tick=False):
        assert api_tokens_purge_expired.delay().get() == 2
        assert api_tokens_purge_expired() == 0

    assert list(ApiToken.objects.values_list("name", flat=True)) == ["long"]


@pytest.mark.parametrize("header", ["Token sgp_\xff\xfeabc", "Token " + "a" * 5000, "Token é"])
def test_a_malformed_token_is_a_401_not_a_server_error(alice: User, header: str) -> None:
    response = APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=header)

    assert_error(response, 401, "authentication_failed")
