"""Requests during outages, on a copy of the kept full-scale site: what a broker or a shared cache
that stops answering, and a table locked by another session, cost the API's requests.

Run ``DATABASE_URL=postgres://… python -m booking.admission.outage_benchmark [--requests 20]``
after ``python -m booking.admission.benchmark --keep`` (``make bench`` runs both). The kept site
is copied (``<name>_outage``, dropped at the end); each case runs in a process of its own with
the production settings, in process with Django's test client as the busiest project's member:

- **broker frozen**: Celery's broker is a ``redis-server`` of this run's own; ``--requests`` job
  submits (``ADMISSION_ON_SUBMIT`` on, so each may queue the admission task) while it answers,
  then as many after it was stopped with SIGSTOP (it accepts connections, never answers);
- **cache frozen**: the same with the shared cache's Redis, and job details (each request's
  throttle reads and writes the cache);
- **database host silent**: job details while the database answers, then as many after the
  process's connection was pointed at a port that accepts connections and never answers (as a
  host behind a network that drops packets): the first request waits ``DB_CONNECT_TIMEOUT``,
  the others of the next ``DB_OUTAGE_SECONDS`` answer 503 at once;
- **job table locked**: another session holds ``LOCK TABLE booking_job IN ACCESS EXCLUSIVE
  MODE`` while a job detail is asked for, with the web workers' statement timeout (2 s here,
  half of ``WEB_TIMEOUT`` in production).

It prints, per case, the median and the maximum while the service answers and after it stopped,
how many requests of the outage waited for it (400 ms or more), and the statuses. Needs
``redis-server`` on PATH for the first two (skipped without it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from booking.admission.load_benchmark import kept_site, kept_site_copy

CASES = ("broker", "cache", "database", "lock")
STATEMENT_TIMEOUT_MS = 2_000
SLOW_MS = 400
"""A request this slow waited for the service (the cache's timeout is 500 ms)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20, help="requests per phase")
    parser.add_argument("--run", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--redis", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(_run(args.run, args.requests, args.redis)))
        return 0
    sites = kept_site("outage benchmark")
    if sites is None:
        return 0
    url, kept = sites
    print(f"requests during outages (in process, a copy of the kept site, {args.requests} each)")
    with kept_site_copy(url, kept, "outage") as environment:
        for case in CASES:
            print(_case(case, args.requests, environment), flush=True)
    return 0


def _case(case: str, requests: int, environment: dict[str, str]) -> str:
    if case in ("database", "lock"):
        return _line(case, _child(case, requests, "", environment))
    if shutil.which("redis-server") is None:
        return f"{case}: skipped (no redis-server on PATH)"
    folder = tempfile.mkdtemp(prefix="stargate-outage-redis-")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603 (Debian's redis-server, on a port of our own)
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        redis = f"redis://127.0.0.1:{port}/0;{server.pid}"
        return _line(case, _child(case, requests, redis, environment))
    finally:
        server.send_signal(signal.SIGCONT)
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _child(case: str, requests: int, redis: str, environment: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [
            *(sys.executable, "-m", "booking.admission.outage_benchmark"),
            *("--run", case, "--requests", str(requests), "--redis", redis),
        ],
        env=environment,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _line(case: str, result: dict[str, Any]) -> str:
    title = {
        "broker": "broker frozen (SIGSTOP), API job submits",
        "cache": "shared cache frozen (SIGSTOP), API job details",
        "database": "database host silent (accepts, never answers), API job details",
        "lock": f"job table locked by another session, statement timeout {STATEMENT_TIMEOUT_MS}"
        " ms, API job detail",
    }[case]
    if case == "lock":
        return (
            f"{title}: {result['status']} {result['code']} after {result['ms']:.0f} ms "
            f"(Retry-After: {result['retry_after']})"
        )
    up, down = result["up"], result["down"]
    slow = sum(1 for spent in down if spent >= SLOW_MS)
    return (
        f"{title}: answering median {statistics.median(up):.1f} ms, max {max(up):.0f} ms; "
        f"stopped answering median {statistics.median(down):.1f} ms, max {max(down):.0f} ms, "
        f"{slow} of {len(down)} took {SLOW_MS} ms or more; "
        f"statuses {dict(sorted(result['statuses'].items()))}"
    )


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("redis-server did not start")


# -- in the child process --------------------------------------------------------------------


def _run(case: str, requests: int, redis: str) -> dict[str, Any]:
    url, _, pid = redis.partition(";")
    if case == "broker":
        os.environ |= {"CELERY_BROKER_URL": url, "ADMISSION_ON_SUBMIT": "true"}
    elif case == "cache":
        os.environ["CACHE_URL"] = url
    elif case == "lock":
        os.environ["DB_STATEMENT_TIMEOUT_MS"] = str(STATEMENT_TIMEOUT_MS)
    import django

    django.setup()
    from django.test import Client

    from booking.admission.load_benchmark import site_prepare

    facts = site_prepare()
    client = Client()
    headers = {"Authorization": f"Token {facts['token']}", "Accept": "application/json"}
    detail = f"/api/v1/jobs/{facts['job']}/"
    if case == "lock":
        return _locked(client, detail, headers)
    body = json.dumps(
        {
            "project": facts["project"],
            "gpu_type": facts["gpu_type"],
            "gpus": 1,
            "walltime_minutes": 60,
            "name": "outage",
            "script": "#!/bin/sh\nsleep 60\n",
        }
    )

    def submit() -> int:
        return client.post(
            "/api/v1/jobs/",
            body,
            content_type="application/json",
            headers=headers | {"Idempotency-Key": uuid.uuid4().hex},
        ).status_code

    def read() -> int:
        return client.get(detail, headers=headers).status_code

    request = submit if case == "broker" else read
    statuses: Counter[int] = Counter()
    up = _timed(request, requests, statuses)
    if case == "database":
        down = _database_silent(request, requests, statuses)
    else:
        os.kill(int(pid), signal.SIGSTOP)
        try:
            down = _timed(request, requests, statuses)
        finally:
            os.kill(int(pid), signal.SIGCONT)
    return {"up": up, "down": down, "statuses": {str(k): v for k, v in statuses.items()}}


def _timed(request: Callable[[], int], times: int, statuses: Counter[int]) -> list[float]:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        statuses[request()] += 1
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def _database_silent(request: Callable[[], int], times: int, statuses: Counter[int]) -> list[float]:
    """``request`` ``times`` times with the process's connection pointed at a port where the
    kernel accepts connections and nothing answers."""
    from django.db import connection

    saved = dict(connection.settings_dict)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        connection.close()
        connection.settings_dict["PORT"] = silent.getsockname()[1]
        try:
            return _timed(request, times, statuses)
        finally:
            connection.close()
            connection.settings_dict.update(saved)


def _locked(client: Any, path: str, headers: dict[str, str]) -> dict[str, Any]:
    import psycopg
    from django.db import connection

    connection.close()  # the next request connects with the statement timeout
    with psycopg.connect(**connection.get_connection_params()) as other:
        other.execute("LOCK TABLE booking_job IN ACCESS EXCLUSIVE MODE")
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        spent = (time.perf_counter() - started) * 1000
        other.rollback()
    return {
        "status": response.status_code,
        "code": response.json().get("code"),
        "ms": spent,
        "retry_after": response.get("Retry-After"),
    }


if __name__ == "__main__":
    sys.exit(main())
