"""Prometheus metrics: the platform's own (requests, Celery tasks and queues) and ``/metrics``.

Each process records into prometheus-client's registry. Under the production start
(``manage.py start``) ``PROMETHEUS_MULTIPROC_DIR`` is set, every process of a machine (web
workers, Celery workers) writes its figures there, and ``/metrics`` adds them up: one scrape
per machine sees all of its processes. Figures that describe the whole site rather than one
process (queue lengths, the last admission cycle) are read at scrape time by the collectors
named in ``settings.METRICS_COLLECTORS``, each with a bounded cost.

``/metrics`` is not public: a caller needs ``settings.METRICS_TOKEN`` as a bearer token, or
to connect directly (not through the proxy) from a network of ``METRICS_ALLOWED_NETWORKS``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUEST_SECONDS = Histogram(
    "stargate_http_request_duration_seconds",
    "Time to answer a request, by view (URL name), method and status.",
    ["view", "method", "status"],
)
TASK_SECONDS = Histogram(
    "stargate_celery_task_duration_seconds",
    "Time a Celery task ran, by task name.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
TASKS = Counter(
    "stargate_celery_tasks",
    "Celery tasks run, by task name and final state (SUCCESS, FAILURE, RETRY …).",
    ["task", "state"],
)
TASK_FAILURES = Counter(
    "stargate_celery_task_failures",
    "Celery tasks that raised, by task name and exception class.",
    ["task", "exception"],
)

TASK_ENQUEUE_FAILURES = Counter(
    "stargate_celery_task_enqueue_failures",
    "Tasks a write could not queue because the broker was unavailable (the work is picked up "
    "later by a periodic task), by task name.",
    ["task"],
)


def http_request_observe(view: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUEST_SECONDS.labels(view, method, str(status)).observe(seconds)


def task_observe(task: str, state: str, seconds: float, error: BaseException | None) -> None:
    TASK_SECONDS.labels(task).observe(seconds)
    TASKS.labels(task, state).inc()
    if error is not None:
        TASK_FAILURES.labels(task, type(error).__name__).inc()


# -- what is read at scrape time ------------------------------------------------------------


class BrokerQueues:
    """``stargate_celery_queue_length`` per queue the project routes to, and whether the broker
    answered (one round trip per queue)."""

    def collect(self) -> Iterator[Metric]:
        from stargate_portal.celery import app

        lengths = GaugeMetricFamily(
            "stargate_celery_queue_length", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        up = GaugeMetricFamily("stargate_celery_broker_up", "1 if the broker answered the scrape.")
        try:
            with app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
                channel = connection.default_channel
                for queue in celery_queues():
                    lengths.add_metric([queue], _queue_length(channel, queue))
        except Exception as exc:  # the broker is down: say so, never fail the scrape
            logger.warning("metrics: broker unavailable: %r", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield lengths


def celery_queues() -> list[str]:
    """The default queue and every queue a route names."""
    routes = settings.CELERY_TASK_ROUTES.values()
    named = {route["queue"] for route in routes if "queue" in route}
    return sorted({settings.CELERY_TASK_DEFAULT_QUEUE, *named})


def _queue_length(channel: Any, queue: str) -> int:
    try:
        return int(channel.queue_declare(queue=queue, passive=True).message_count)
    except Exception:  # a queue nobody declared yet holds nothing
        return 0


class _ProcessMetrics:
    """This process's own registry, as one collector of the scrape's registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


@cache
def _scrape_collectors() -> list[Any]:
    return [import_string(path)() for path in settings.METRICS_COLLECTORS]


def scrape_registry() -> CollectorRegistry:
    """Every process of this machine (or this process alone) and the scrape-time figures."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROCESS_ENV):
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    for collector in _scrape_collectors():
        registry.register(collector)
    return registry


# -- /metrics -------------------------------------------------------------------------------


def metrics_access_allowed(request: HttpRequest) -> bool:
    """The bearer token, or a direct connection from an allowed network. A request the proxy
    forwarded (it says ``X-Forwarded-For``) comes from anyone: only the token lets it in."""
    token = settings.METRICS_TOKEN
    offered = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return True
    if "X-Forwarded-For" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _allowed_networks())


@cache
def _allowed_networks_of(
    networks: tuple[str, ...],
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(network, strict=False) for network in networks]


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return _allowed_networks_of(tuple(settings.METRICS_ALLOWED_NETWORKS))


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """GET /metrics: the Prometheus text format, for the token or an allowed network."""
    if not metrics_access_allowed(request):
        return HttpResponse(
            "Forbidden: /metrics needs the metrics token or an allowed network.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
