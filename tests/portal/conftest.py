"""Fixtures of the portal tests: logged-in clients and a plain member of alice's university."""

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import MembershipRole, Organisation, User
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture(autouse=True)
def fresh_rate_limit_cache() -> Iterator[None]:
    """allauth's rate limits count in the cache; start every test clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def login(client: Client) -> Callable[[User], Client]:
    """``login(user)``: the test client with ``user`` logged in."""

    def log_in(user: User) -> Client:
        client.force_login(user)
        return client

    return log_in


@pytest.fixture
def dave(alice_org: Organisation) -> User:
    """A plain member (not owner or admin) of alice's University of Oslo."""
    user = UserFactory(email="dave@uio.no")
    MembershipFactory(user=user, organisation=alice_org, role=MembershipRole.MEMBER)
    return user
