"""The shared cache's backend: django-redis, told to ride out a Redis outage (``cache_config``).

django-redis already answers a miss for a read and nothing for a write while Redis is down.
One call needs more: ``add`` is how callers take a short lock or claim "I am first" (allauth's
login rate limit locks its counter with it). Answering "not added" would make every caller wait
and give up (allauth answers 429 to every log-in), so while Redis is down ``add`` answers True:
the claim is granted, as if nobody else held it. Callers that must not all win during an
outage (the admission debounce) keep a guard of their own in the process.
"""

from typing import Any

from django_redis.cache import RedisCache, omit_exception


class OutageTolerantRedisCache(RedisCache):
    # django-redis's own handling of an outage (log, then answer), with True as the answer.
    @omit_exception(return_value=True)
    def add(self, *args: Any, **kwargs: Any) -> bool:
        return bool(self.client.add(*args, **kwargs))
