"""The cache settings for a ``CACHE_URL`` (read by ``settings.py``; no Django imports here).

The shared cache holds counters and copies, never the only record of anything, so an outage of
it must not fail a request. A ``redis://`` cache therefore goes through django-redis
(``stargate_portal.cache``), which answers a miss (reads), does nothing (writes) and grants
every ``add`` while Redis is down, and logs it (``stargate_portal.cache``, at most once a
minute); /healthz says "degraded". Throttles and login rate limits count nothing meanwhile:
they fail open. The timeouts bound what an unreachable (rather than refusing) Redis costs a
cache call, and after one failed call a process leaves Redis alone for ``CACHE_OUTAGE_SECONDS``
(``stargate_portal.cache.OutageGuardedPool``).
"""

from typing import Any


def cache_settings(parsed: dict[str, Any], *, timeout_seconds: float) -> dict[str, Any]:
    """``parsed`` as django-environ reads a CACHE_URL; a Redis cache made outage-tolerant."""
    if not parsed["BACKEND"].endswith(".RedisCache"):
        return parsed
    return {
        "BACKEND": "stargate_portal.cache.OutageTolerantRedisCache",
        "LOCATION": parsed["LOCATION"],
        "OPTIONS": {
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": timeout_seconds,
            "SOCKET_TIMEOUT": timeout_seconds,
            "CONNECTION_POOL_CLASS": "stargate_portal.cache.OutageGuardedPool",
        },
    }
