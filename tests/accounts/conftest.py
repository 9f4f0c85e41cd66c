"""Fixtures of the accounts tests."""

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_throttle_cache() -> Iterator[None]:
    """Throttle counters live in the cache; user ids repeat between tests, so start clean."""
    cache.clear()
    yield
    cache.clear()
