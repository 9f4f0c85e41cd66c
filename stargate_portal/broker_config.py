"""The Celery broker's transport options for a ``CELERY_BROKER_URL`` (read by ``settings.py``;
no Django imports here).

A write queues its tasks after its commit (``stargate_portal.task_enqueue``), and a broker that
cannot take them must not hold the request: the work is picked up by a periodic task later. A
Redis that refuses connections fails a publish at once, but one that accepts them and never
answers (a frozen process or virtual machine, a fail-over behind a proxy, a half-open
connection) made a publish wait forever: kombu's Redis transport has no socket timeout unless
told, so each such request held a web worker until gunicorn killed it. The timeouts bound
that; ``task_enqueue`` then stops trying for a few seconds (``CELERY_BROKER_OUTAGE_SECONDS``),
so one request per process pays them, not every request.
"""

from typing import Any

REDIS_SCHEMES = ("redis://", "rediss://", "sentinel://")

PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
"""One retry (a pooled connection the broker closed on restart is replaced on it); Celery's
default of three would multiply the timeouts below by four for a broker that does not answer."""


def broker_transport_options(url: str, *, timeout_seconds: float) -> dict[str, Any]:
    """The transport options for a Redis broker at ``url``: connecting and every blocking
    command give up after ``timeout_seconds`` (longer than the consumer's one-second BRPOP,
    which kombu waits for through its event loop). Other brokers: none."""
    if not url.startswith(REDIS_SCHEMES):
        return {}
    return {"socket_connect_timeout": timeout_seconds, "socket_timeout": timeout_seconds}
