"""The API's throttles count every request once, atomically, in a few bytes of the shared cache
(stargate_portal/api/throttling.py), against a real Redis."""

import threading
from types import SimpleNamespace

import pytest
import redis
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.http import HttpRequest
from django.test import RequestFactory

from accounts.models import User
from stargate_portal.api.throttling import AnonRateThrottle, UserRateThrottle
from tests.fixtures.redis import RedisServer, keys_in

CLIENTS = 24


def request_by(user: object, address: str = "192.0.2.7") -> HttpRequest:
    """What the throttles read of a request: its method, its user, its address."""
    request = RequestFactory().get("/api/v1/me/", REMOTE_ADDR=address)
    request.user = user  # type: ignore[assignment]
    return request


def signed_in(pk: int) -> HttpRequest:
    return request_by(SimpleNamespace(pk=pk, is_authenticated=True))


class TenAMinute(UserRateThrottle):
    rate = "10/min"


@pytest.mark.redis
def test_clients_racing_for_the_last_requests_of_a_minute_never_both_win(
    shared_cache: RedisServer,
) -> None:
    # DRF's own throttle reads the client's history and writes it back: two requests that
    # read the same history both pass and one of them is never counted.
    start = threading.Barrier(CLIENTS)
    allowed: list[bool] = []

    def client() -> None:
        throttle = TenAMinute()
        start.wait()
        allowed.append(throttle.allow_request(signed_in(7), view=None))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert allowed.count(True) == 10
    assert len(allowed) == CLIENTS
    # Another user has a count of its own.
    assert TenAMinute().allow_request(signed_in(8), view=None) is True


@pytest.mark.redis
def test_the_count_is_a_number_whatever_the_rate(shared_cache: RedisServer) -> None:
    for _ in range(500):
        assert UserRateThrottle().allow_request(signed_in(7), view=None) is True

    (key,) = [key for key in keys_in(shared_cache) if ":throttle:" in key]
    stored = redis.Redis.from_url(shared_cache.url).get(key)
    assert stored is not None
    assert int(stored) == 500  # a few bytes each way, not the list of 500 request times


@pytest.mark.redis
def test_while_the_cache_is_down_the_throttles_let_requests_through(
    shared_cache: RedisServer,
) -> None:
    assert [TenAMinute().allow_request(signed_in(7), view=None) for _ in range(11)][-1] is False
    shared_cache.stop()

    assert all(TenAMinute().allow_request(signed_in(7), view=None) for _ in range(20))


def test_the_anonymous_throttle_counts_addresses_and_leaves_signed_in_users_alone(
    db: None, alice: User
) -> None:
    cache.clear()

    class OneAMinute(AnonRateThrottle):
        rate = "1/min"

    anonymous = request_by(AnonymousUser())
    elsewhere = request_by(AnonymousUser(), address="198.51.100.1")

    assert OneAMinute().allow_request(anonymous, view=None) is True
    refused = OneAMinute()
    assert refused.allow_request(anonymous, view=None) is False
    assert 1 <= (refused.wait() or 0) <= 60
    assert OneAMinute().allow_request(elsewhere, view=None) is True
    assert all(OneAMinute().allow_request(signed_in(alice.pk), view=None) for _ in range(3))
