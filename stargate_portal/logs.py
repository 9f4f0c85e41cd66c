"""Structured logs: one line per request and per Celery task, each with its correlation id.

Every request gets a correlation id (or keeps the one a trusted proxy sent in
``settings.REQUEST_ID_HEADER``); it is answered in the ``X-Request-ID`` header, shown by 500
responses, and added with the user id to every log line written while the request runs.
Tasks queued by a request carry its correlation id and user id in their message headers, so
their lines can be followed back to it. ``settings.LOG_FORMAT`` chooses JSON (production) or
plain text (``make run``); the fields are the same.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from stargate_portal.metrics import http_request_observe, task_observe

request_logger = logging.getLogger("stargate_portal.requests")
task_logger = logging.getLogger("stargate_portal.tasks")

CORRELATION_HEADER = "stargate_correlation_id"
USER_HEADER = "stargate_user_id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass
class LogContext:
    """What every log line written in this request or task says about it."""

    correlation_id: str
    user_id: int | None = None
    request: HttpRequest | None = None

    def current_user_id(self) -> int | None:
        if self.user_id is None and self.request is not None:
            self.user_id = _user_id_if_known(self.request)
        return self.user_id


_context: ContextVar[LogContext | None] = ContextVar("stargate_log_context", default=None)


def correlation_id() -> str:
    """The correlation id of the request or task running now (a new one outside of both)."""
    context = _context.get()
    return context.correlation_id if context is not None else uuid.uuid4().hex


def _user_id_if_known(request: HttpRequest) -> int | None:
    """The signed-in user's id, without loading the user when the request never asked for it
    (a static file or /healthz must not cost a session lookup)."""
    user = request.__dict__.get("user")
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return user.pk if getattr(user, "is_authenticated", False) else None


class ContextFilter(logging.Filter):
    """Adds ``correlation_id`` and ``user_id`` to every record written inside a request or a
    task (a line about neither has neither)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        if context is None:
            return True
        if not hasattr(record, "correlation_id"):
            record.correlation_id = context.correlation_id
        if getattr(record, "user_id", None) is None:
            record.user_id = context.current_user_id()
        return True


class OncePerInterval(logging.Filter):
    """Lets one record through per ``seconds`` (per logger it filters); the next one says how
    many were held back. For failures that repeat on every call during an outage."""

    def __init__(self, seconds: float = 60.0) -> None:
        super().__init__()
        self.seconds = seconds
        self._last = float("-inf")
        self._held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self._last < self.seconds:
            self._held += 1
            return False
        if self._held:
            record.msg = f"{record.msg} ({self._held} more like it not logged)"
        self._last, self._held = now, 0
        return True


# -- requests -------------------------------------------------------------------------------


class RequestLogMiddleware:
    """Times each request, logs one line about it and feeds the request-latency metric.

    First in ``MIDDLEWARE``, so redirects, static files and errors are timed and logged too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        context = LogContext(correlation_id=_incoming_id(request), request=request)
        token = _context.set(context)
        try:
            response = self.get_response(request)
            duration = time.perf_counter() - started
            view = _view_name(request)
            response["X-Request-ID"] = context.correlation_id
            http_request_observe(view, request.method or "", response.status_code, duration)
            request_logger.info(
                "%s %s %s %.0f ms",
                request.method,
                request.path,
                response.status_code,
                duration * 1000,
                extra={
                    "event": "request",
                    "method": request.method,
                    "path": request.path,
                    "view": view,
                    "status": response.status_code,
                    "duration_ms": round(duration * 1000, 1),
                    "correlation_id": context.correlation_id,
                    "user_id": context.current_user_id(),
                },
            )
            return response
        finally:
            _context.reset(token)


def _incoming_id(request: HttpRequest) -> str:
    header = settings.REQUEST_ID_HEADER
    if header:
        value = request.headers.get(header, "")
        if _SAFE_ID.match(value):
            return value
    return uuid.uuid4().hex


def _view_name(request: HttpRequest) -> str:
    """A bounded label: the URL's name (never the raw path), or what served it without one."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or match.route or "unnamed"
    if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return "static"
    return "unmatched"


# -- Celery tasks ---------------------------------------------------------------------------


@dataclass
class _Running:
    context: LogContext
    token: Token[LogContext | None]
    started: float


_running: dict[str, _Running] = {}
_TASK_LEVELS = {"FAILURE": logging.ERROR, "RETRY": logging.WARNING}


def task_headers_add(headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
    """``before_task_publish``: a task queued inside a request carries its ids along."""
    context = _context.get()
    if context is None or headers is None:
        return
    headers.setdefault(CORRELATION_HEADER, context.correlation_id)
    user_id = context.current_user_id()
    if user_id is not None:
        headers.setdefault(USER_HEADER, user_id)


def task_started(task_id: str | None = None, task: Any = None, **_kwargs: Any) -> None:
    """``task_prerun``: the task's lines carry its request's correlation id, or its own id."""
    if task_id is None:
        return
    request = getattr(task, "request", None)
    context = LogContext(
        correlation_id=str(getattr(request, CORRELATION_HEADER, None) or task_id),
        user_id=getattr(request, USER_HEADER, None),
    )
    _running[task_id] = _Running(context, _context.set(context), time.perf_counter())


def task_finished(
    task_id: str | None = None,
    task: Any = None,
    state: str | None = None,
    retval: Any = None,
    **_kwargs: Any,
) -> None:
    """``task_postrun``: one line per task, with its outcome and duration."""
    running = _running.pop(task_id or "", None)
    if running is None:
        return
    seconds = time.perf_counter() - running.started
    duration_ms = round(seconds * 1000, 1)
    name = getattr(task, "name", "?")
    failed = state == "FAILURE" and isinstance(retval, BaseException)
    task_observe(name, state or "", seconds, retval if failed else None)
    task_logger.log(
        _TASK_LEVELS.get(state or "", logging.INFO),
        "task %s %s %.0f ms",
        name,
        state,
        duration_ms,
        exc_info=(type(retval), retval, retval.__traceback__) if failed else None,
        extra={
            "event": "task",
            "task": name,
            "task_id": task_id,
            "state": state,
            "duration_ms": duration_ms,
            "correlation_id": running.context.correlation_id,
            "user_id": running.context.user_id,
        },
    )
    try:
        _context.reset(running.token)
    except ValueError:  # finished in another context than it started (never in a worker)
        _context.set(None)
