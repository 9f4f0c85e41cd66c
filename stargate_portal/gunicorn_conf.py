"""gunicorn's settings for the web process (``--config python:stargate_portal.gunicorn_conf``).

Every value can be changed from the environment (docs/deploy.md): ``WEB_BIND`` (default
127.0.0.1:$PORT, PORT 8000), ``WEB_CONCURRENCY`` worker processes (default 2 x cores + 1),
``WEB_THREADS`` per worker (default 1: sync workers), ``WEB_TIMEOUT`` seconds (and
``DB_STATEMENT_TIMEOUT_MS``, default half of it, for the workers' database statements),
``FORWARDED_ALLOW_IPS`` (the proxies whose X-Forwarded-* headers gunicorn trusts), and any
other gunicorn flag through ``GUNICORN_CMD_ARGS``. Django logs one line per request, so
gunicorn's own access log stays off; its error log uses the same format as the application.
"""

import gc
import multiprocessing
import os
from pathlib import Path
from typing import Any

bind = [os.environ.get("WEB_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
# A statement of a request stops at half the worker timeout (PostgreSQL; the settings read it
# when a worker loads the application): the request answers 503 with its transaction rolled
# back, where a killed worker would cut the connection without an answer.
os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", str(timeout * 1000 // 2))
graceful_timeout = 30
keepalive = 5
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "stargate-web"
accesslog = None
errorlog = "-"
# Heartbeat files on a memory file system: a slow disk must not make workers look dead.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108

if os.environ.get("LOG_FORMAT", "json") == "json":  # as the settings decide with DEBUG off
    logconfig_dict: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": True,
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False}
        },
    }


def post_worker_init(worker: Any) -> None:
    """Before the worker's first request (the application is loaded): ``WEB_WARM_UP``, so no
    user's request pays for it (a failure is logged, never stops the worker); then every
    object the worker holds so far is frozen out of the garbage collector's way.

    Those objects (about 150,000: modules, Django's and DRF's classes, URL patterns, compiled
    templates) live as long as the worker, yet each full collection walked them all: 78 ms,
    every few hundred requests, paid by the request that triggered it and every one queued
    behind it (2.3 ms each once frozen; ``gc.freeze``, as Python's documentation advises for
    forked servers)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    for name in getattr(settings, "WEB_WARM_UP", []):
        try:
            import_string(name)()
        except Exception:  # a warm-up is an optimisation, not a requirement
            worker.log.exception("warm-up %s failed", name)
    gc.collect()  # what start-up left as garbage goes now, not frozen with the rest
    gc.freeze()


def child_exit(server: Any, worker: Any) -> None:
    """A worker that exits leaves its counters to the machine's sum, not its live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
