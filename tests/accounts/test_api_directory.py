"""/api/v1/directory/: verified organisations anyone signed in may ask to join."""

from collections.abc import Callable

import pytest
from pytest_django import DjangoAssertNumQueries
from rest_framework.test import APIClient

from accounts.models import Organisation, User
from tests.error_shape import assert_error
from tests.factories import OrganisationFactory

Api = Callable[[User | None], APIClient]
URL = "/api/v1/directory/"


@pytest.fixture
def directory(alice_org: Organisation, bob_org: Organisation) -> None:
    OrganisationFactory.create(name="Oslo Pending AS", pending=True)
    OrganisationFactory.create(name="Oslo Rejected AS", verification_state="rejected")
    OrganisationFactory.create(name="ETH Zürich", country="CH", kind="research_institute")


def test_the_directory_lists_only_verified_organisations_with_public_facts(
    api: Api, charlie: User, directory: None, alice_org: Organisation
) -> None:
    body = api(charlie).get(URL).json()

    assert [o["name"] for o in body["results"]] == [
        "Acme Compute Inc",
        "ETH Zürich",
        "Fjord AI AS",
        "University of Oslo",
    ]
    assert body["results"][3] == {
        "id": alice_org.pk,
        "name": "University of Oslo",
        "kind": "university",
        "country": "NO",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search=oslo", ["University of Oslo"]),
        ("search=zürich", ["ETH Zürich"]),
        ("search=nothing-like-this", []),
        ("country=no", ["Fjord AI AS", "University of Oslo"]),
        ("kind=startup", ["Fjord AI AS"]),
    ],
)
def test_the_directory_can_be_searched_and_filtered(
    api: Api, charlie: User, directory: None, query: str, expected: list[str]
) -> None:
    body = api(charlie).get(f"{URL}?{query}").json()

    assert [o["name"] for o in body["results"]] == expected


def test_the_directory_is_paginated(api: Api, charlie: User, directory: None) -> None:
    body = api(charlie).get(f"{URL}?page_size=3&page=2").json()

    assert body["count"] == 4
    assert [o["name"] for o in body["results"]] == ["University of Oslo"]


def test_charlie_gets_404_asking_to_join_an_organisation_not_in_the_directory(
    api: Api, charlie: User
) -> None:
    pending = OrganisationFactory.create(name="Hidden AS", pending=True)

    response = api(charlie).post("/api/v1/join-requests/", {"organisation": pending.pk})

    assert_error(response, 404, "not_found")


def test_anonymous_visitors_cannot_browse_the_directory(api: Api, directory: None) -> None:
    assert_error(api(None).get(URL), 401, "not_authenticated")


def test_the_directory_costs_the_same_queries_for_more_organisations(
    api: Api, charlie: User, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    client = api(charlie)
    with django_assert_max_num_queries(2) as few:
        assert client.get(URL).status_code == 200

    OrganisationFactory.create_batch(20, domains=["x.example"])
    with django_assert_max_num_queries(2) as many:
        assert client.get(URL).json()["count"] == 21

    assert len(many) == len(few)
