"""The shared cache's backend: django-redis, told to ride out a Redis outage (``cache_config``).

django-redis already answers a miss for a read and nothing for a write while Redis is down.
One call needs more: ``add`` is how callers take a short lock or claim "I am first" (allauth's
login rate limit locks its counter with it). Answering "not added" would make every caller wait
and give up (allauth answers 429 to every log-in), so while Redis is down ``add`` answers True:
the claim is granted, as if nobody else held it. Callers that must not all win during an
outage (the admission debounce) keep a guard of their own in the process.

A Redis that accepts connections and never answers (frozen, failing over) costs each call its
timeout (``CACHE_TIMEOUT_SECONDS``), and an API request makes at least one (its throttle): every
request would be that much slower for the whole outage. So a call that failed makes this
process skip Redis for ``CACHE_OUTAGE_SECONDS`` (``OutageGuardedPool``): the calls meanwhile
fail at once, and are answered as above.
"""

from typing import Any

import redis
from django_redis.cache import RedisCache, omit_exception

from stargate_portal.outages import Outage


class OutageTolerantRedisCache(RedisCache):
    # django-redis's own handling of an outage (log, then answer), with True as the answer.
    @omit_exception(return_value=True)
    def add(self, *args: Any, **kwargs: Any) -> bool:
        return bool(self.client.add(*args, **kwargs))


OUTAGE = Outage("CACHE_OUTAGE_SECONDS")
"""When this process last failed to reach the shared cache's Redis."""
_FAILURES = (redis.ConnectionError, redis.TimeoutError)


def _check() -> None:
    if OUTAGE.resting():
        raise redis.ConnectionError("the shared cache failed moments ago; not tried")


_GUARDED: dict[type[redis.Connection], type[redis.Connection]] = {}


def _guarded(connection_class: type[redis.Connection]) -> type[redis.Connection]:
    """``connection_class`` (plain or TLS) that fails at once while ``OUTAGE`` says the cache
    failed moments ago, and tells it when a connection, a send or a read fails."""
    if connection_class not in _GUARDED:
        _GUARDED[connection_class] = _guard(connection_class)
    return _GUARDED[connection_class]


def _guard(connection_class: type[redis.Connection]) -> type[redis.Connection]:

    class Guarded(connection_class):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            _check()
            try:
                super().connect()
            except _FAILURES:
                OUTAGE.record()
                raise

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            _check()
            try:
                super().send_packed_command(command, check_health)
            except _FAILURES:
                OUTAGE.record()
                raise

        def read_response(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().read_response(*args, **kwargs)
            except _FAILURES:
                OUTAGE.record()
                raise

    Guarded.__name__ = Guarded.__qualname__ = f"OutageGuarded{connection_class.__name__}"
    return Guarded


class OutageGuardedPool(redis.ConnectionPool):
    """The shared cache's connection pool (``CONNECTION_POOL_CLASS``): its connections are
    ``_guarded``, whichever class the URL asks for."""

    def __init__(
        self, connection_class: type[redis.Connection] = redis.Connection, **kwargs: Any
    ) -> None:
        super().__init__(connection_class=_guarded(connection_class), **kwargs)
