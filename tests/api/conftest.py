"""Fixtures of the API tests: a fresh throttle cache, a plain member of alice's organisation."""

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from accounts.models import MembershipRole, Organisation, User
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture(autouse=True)
def fresh_throttle_cache() -> Iterator[None]:
    """Throttle counters live in the cache; user ids repeat between tests, so start clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dave(alice_org: Organisation) -> User:
    """A plain member (not owner or admin) of alice's University of Oslo."""
    user = UserFactory.create(email="dave@uio.no")
    MembershipFactory.create(user=user, organisation=alice_org, role=MembershipRole.MEMBER)
    return user
