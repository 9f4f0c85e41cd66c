"""The API's throttles: one atomic counter per client and window, O(1) per request.

DRF's own throttles (``SimpleRateThrottle``) keep, per client, the list of its request times in
the last period, read the whole list from the cache and write it back on every request. At the
user rate of 2,000 a minute that is 18 KB each way per request (72 KB at a pipeline's 8,000),
and two concurrent requests both write back the list they read, so one of them is not counted:
a client racing itself gets past the limit. These keep DRF's scopes, rates and client
identities (``get_cache_key``) but count with django-ratelimit: ``cache.add`` then
``cache.incr``, atomic in Redis, a few bytes each way.

The windows are fixed (a minute for ``…/min``, starting at a per-client offset): a client may
send up to its rate at the end of one window and again at the start of the next. A throttled
request waits until its window ends (``Retry-After``). While the shared cache is down the
throttles count nothing and let every request through, like the rest of the cache
(``stargate_portal/cache.py``).
"""

from __future__ import annotations

from typing import Any

from django_ratelimit.core import get_usage
from rest_framework import throttling
from rest_framework.request import Request


class _WindowCounter(throttling.SimpleRateThrottle):
    _wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        usage = get_usage(
            request,
            group=self.scope,
            key=lambda group, request: ident,
            rate=self.parse_rate(self.rate),
            increment=True,
        )
        if usage is None or not usage["should_limit"]:
            return True
        # django-ratelimit's window is still the same at its last second (time_left 0): the
        # next one starts a second later.
        self._wait = usage["time_left"] + 1
        return False

    def wait(self) -> float | None:
        return self._wait


class UserRateThrottle(_WindowCounter, throttling.UserRateThrottle):
    """Signed-in clients, by user (anonymous ones by address): ``API_USER_RATE``."""


class AnonRateThrottle(_WindowCounter, throttling.AnonRateThrottle):
    """Anonymous clients, by address (``X-Forwarded-For`` as DRF reads it): ``API_ANON_RATE``."""
