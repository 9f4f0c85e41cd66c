"""Queueing Celery tasks so that a broker outage never fails a write that has committed.

Every task a write queues goes through ``task_enqueue`` (or ``task_enqueue_on_commit``), never
``.delay``/``.apply_async`` directly (a test in ``tests/infra`` keeps it so). When the broker
cannot take the message, the failure is logged, counted per task and swallowed: the data is
committed and the work is found again by a periodic task on beat (the admission cycle and
reconcile, the e-mail outbox, the low-balance sweep). ``/healthz`` logs the counts, and
``/metrics`` exports them (``stargate_celery_task_enqueue_failures_total``).

A broker that does not answer costs a publish its timeouts (``stargate_portal.broker_config``).
So that one request pays them rather than every request, a failure makes this process skip the
broker for ``CELERY_BROKER_OUTAGE_SECONDS``: the tasks queued meanwhile are counted and logged
as not queued, at once, and their work is picked up the same way.
"""

import logging
import threading
from collections import Counter
from functools import partial
from typing import Any

from celery import Task
from django.db import transaction
from kombu.exceptions import KombuError

from stargate_portal.metrics import TASK_ENQUEUE_FAILURES
from stargate_portal.outages import Outage

logger = logging.getLogger(__name__)

# What a broker that is down, unreachable or refusing raises through kombu (connection errors
# are re-raised as kombu's OperationalError; a socket that fails mid-publish is an OSError).
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuError, OSError)

_failures: Counter[str] = Counter()
_failures_lock = threading.Lock()
BROKER_OUTAGE = Outage("CELERY_BROKER_OUTAGE_SECONDS")
"""When this process last failed to reach the broker."""


def task_enqueue(task: Task, *args: Any, countdown: float | None = None, **kwargs: Any) -> bool:
    """Queue ``task(*args, **kwargs)``; True if the broker took it. A broker failure is logged
    and counted, not raised: the caller's work is picked up later by its periodic task."""
    if BROKER_OUTAGE.resting():
        _not_queued(task, f"the broker failed less than {BROKER_OUTAGE.seconds:g} s ago", None)
        return False
    try:
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
    except BROKER_ERRORS as exc:
        BROKER_OUTAGE.record()
        _not_queued(task, "the broker is unavailable", exc)
        return False
    return True


def _not_queued(task: Task, why: str, exc: BaseException | None) -> None:
    with _failures_lock:
        _failures[task.name] += 1
    TASK_ENQUEUE_FAILURES.labels(task.name).inc()
    logger.error(
        "task not queued, %s: %s%s; a periodic task picks the work up once the broker is back",
        why,
        task.name,
        f" ({exc!r})" if exc is not None else "",
        exc_info=exc,
    )


def task_enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    """``task_enqueue`` once the current transaction commits (at once outside one), so a
    rolled-back write never starts a task."""
    transaction.on_commit(partial(task_enqueue, task, *args, **kwargs))


def enqueue_failures() -> dict[str, int]:
    """Tasks this process could not queue since it started, by task name."""
    with _failures_lock:
        return dict(_failures)


def enqueue_failures_reset() -> None:
    """Forget the counts and the last failure (tests)."""
    with _failures_lock:
        _failures.clear()
    BROKER_OUTAGE.forget()
