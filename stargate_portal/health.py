"""GET /healthz: the state of the database and the Celery broker (200, or 503 if one is down),
and of the shared cache (200 "degraded" when it is down).

Anyone may call it, so the body says only "ok" or "unavailable" per check; why a check failed
goes to the log, never to the caller.

Features add checks of their own with ``health_check_register`` (the cluster, from
``booking.apps``). Those are reported but not vital: when only they fail the status is
"degraded" with 200, because the portal and the API keep working without them and a load
balancer must not take the site out of service for it.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from stargate_portal.celery import app as celery_app
from stargate_portal.task_enqueue import enqueue_failures

logger = logging.getLogger(__name__)

OK = "ok"
UNAVAILABLE = "unavailable"
DEGRADED = "degraded"

_extra_checks: dict[str, Callable[[], bool | None]] = {}


def health_check_register(name: str, check: Callable[[], bool | None]) -> None:
    """Report ``check()`` under ``name``: True ok, False unavailable, None not reported."""
    _extra_checks[name] = check


def extra_checks() -> dict[str, bool]:
    results = {}
    for name, check in _extra_checks.items():
        try:
            ok = check()
        except Exception as exc:  # any failure means "down"; the log says why
            logger.warning("healthz: %s unavailable: %r", name, exc, exc_info=exc)
            ok = False
        if ok is not None:
            results[name] = ok
    return results


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "down"; the log says why
        logger.warning("healthz: database unavailable: %r", exc, exc_info=exc)
        return False
    return True


def cache_ok() -> bool | None:
    """The shared cache (Redis through django-redis) answers; None for a per-process cache.

    Not vital: the cache ignores its own outage (``settings.CACHES``), so the site works on
    without it, with throttles failing open."""
    client = getattr(caches["default"], "client", None)
    if client is None or not hasattr(client, "get_client"):
        return None
    try:
        client.get_client(write=False).ping()
    except Exception as exc:  # any failure means "down"; the log says why
        logger.warning("healthz: cache unavailable: %r", exc, exc_info=exc)
        return False
    return True


def broker_ok() -> bool:
    try:
        with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # any failure means "down"; the log says why
        logger.warning("healthz: broker unavailable: %r", exc, exc_info=exc)
        return False
    return True


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    vital = {"database": database_ok(), "broker": broker_ok()}
    extra = {"cache": cache} if (cache := cache_ok()) is not None else {}
    extra |= extra_checks()
    healthy = all(vital.values())
    status = OK if healthy and all(extra.values()) else DEGRADED if healthy else UNAVAILABLE
    if failures := enqueue_failures():
        # Detail for operators only: which tasks this process could not queue (broker down).
        logger.warning("healthz: tasks not queued since this process started: %s", failures)
    body = {
        "status": status,
        "checks": {name: OK if ok else UNAVAILABLE for name, ok in (vital | extra).items()},
    }
    return JsonResponse(body, status=200 if healthy else 503)
