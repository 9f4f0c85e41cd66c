"""Fixtures of the console tests: a clean rate-limit cache and logged-in clients."""

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import User


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
