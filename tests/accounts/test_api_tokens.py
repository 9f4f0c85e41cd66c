"""/api/v1/tokens/: create (shown once), list, revoke; and authenticating with a token."""

from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone
from pytest_django import DjangoAssertNumQueries
from rest_framework.test import APIClient

from accounts.models import ApiToken, User
from accounts.services.tokens import api_token_create
from tests.error_shape import assert_error

Api = Callable[[User | None], APIClient]
URL = "/api/v1/tokens/"


def test_creating_a_token_shows_it_once(api: Api, alice: User) -> None:
    response = api(alice).post(URL, {"name": "laptop", "expires_in_days": 30})

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "name", "prefix", "created", "expiry", "token"}
    assert body["name"] == "laptop"
    assert body["token"].startswith(body["prefix"])
    token = ApiToken.objects.get(public_id=body["id"])
    assert token.expiry is not None
    assert abs(token.expiry - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)

    listed = api(alice).get(URL).json()["results"]
    assert [t["id"] for t in listed] == [body["id"]]
    assert "token" not in listed[0]
    assert body["token"] not in api(alice).get(URL).content.decode()


def test_a_token_created_through_the_api_authenticates(api: Api, alice: User) -> None:
    clear_text = api(alice).post(URL, {"name": "ci"}).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {clear_text}")

    me = client.get("/api/v1/me/")
    organisations = client.get("/api/v1/organisations/")

    assert me.json()["email"] == "alice@uio.no"
    assert [o["name"] for o in organisations.json()["results"]] == ["University of Oslo"]


def test_an_invalid_token_request_is_a_400_by_field(api: Api, alice: User) -> None:
    body = assert_error(api(alice).post(URL, {"name": "", "expires_in_days": 400}), 400, "invalid")

    assert set(body["details"]) == {"name", "expires_in_days"}
    assert not ApiToken.objects.exists()


def test_revoking_a_token_through_the_api(api: Api, alice: User) -> None:
    token, clear_text = api_token_create(user=alice, name="laptop")

    response = api(alice).delete(f"{URL}{token.public_id}/")

    assert response.status_code == 204
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {clear_text}")
    assert_error(client.get("/api/v1/me/"), 401, "authentication_failed")


def test_charlie_gets_404_revoking_alices_token_and_sees_none_of_hers(
    api: Api, alice: User, charlie: User
) -> None:
    token, _ = api_token_create(user=alice, name="laptop")

    assert_error(api(charlie).delete(f"{URL}{token.public_id}/"), 404, "not_found")
    assert api(charlie).get(URL).json()["count"] == 0
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_a_token_id_that_is_not_a_uuid_is_404(api: Api, alice: User) -> None:
    assert_error(api(alice).delete(f"{URL}not-a-uuid/"), 404, "not_found")


def test_tokens_can_be_filtered_by_name_and_paginated(api: Api, alice: User) -> None:
    for name in ("laptop", "ci runner", "ci nightly"):
        api_token_create(user=alice, name=name)

    by_name = api(alice).get(f"{URL}?name=CI").json()
    page = api(alice).get(f"{URL}?page_size=2").json()

    assert sorted(t["name"] for t in by_name["results"]) == ["ci nightly", "ci runner"]
    assert page["count"] == 3
    assert len(page["results"]) == 2


def test_listing_tokens_costs_the_same_queries_for_more_tokens(
    api: Api, alice: User, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    client = api(alice)
    api_token_create(user=alice, name="first")
    with django_assert_max_num_queries(2) as few:
        assert client.get(URL).status_code == 200

    for n in range(10):
        api_token_create(user=alice, name=f"token {n}")
    with django_assert_max_num_queries(2) as many:
        assert client.get(URL).json()["count"] == 11

    assert len(many) == len(few)
