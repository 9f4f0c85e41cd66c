"""API load benchmark: requests against a real WSGI server at full scale, next to the demo site.

Run ``DATABASE_URL=postgres://… python -m booking.admission.load_benchmark [--clients 32]
[--seconds 10] [--drop-site]`` after ``python -m booking.admission.benchmark --keep`` (``make
bench`` runs both). It serves two sites in turn with gunicorn (2 sync worker processes, the
production settings with DEBUG off) and drives each with ``--clients`` concurrent clients of a
small asyncio HTTP client on the same machine:

- the kept benchmark site ``<name>_admission_bench`` (12,500 nodes, 2,000 projects, 100,000
  pending and 60,000 running jobs), as a member of its busiest project;
- the small demo site (``seed_demo`` + ``demo_site`` + a few jobs) in ``<name>_load_demo``,
  created here and dropped at the end.

Before it is served, each site is brought to the state of a running one: a member with a token
and a session, a fresh admission cycle, the ledger checkpoints folded (the beat task does it
every 15 minutes) and fresh planner statistics. ``--workers N`` serves with N processes instead
(the production default is 2 x cores + 1), and ``WEB_THREADS=N`` in the environment with N
threads each (gunicorn's gthread workers; the default is 1, sync workers).

Each request kind runs for ``--seconds`` after a one-second warm-up; the figures are the
requests per second, p50 and p99 latency (one request = connect, send, read the whole response)
and the responses that were not 2xx. Beside them, where the CPU went per request on the
benchmark site: gunicorn's processes, PostgreSQL's and the load client's (read from ``/proc``
before and after each kind). The stack's floor is loaded the same way, the health check and
the cheapest authenticated API request, and the last line says what the API's latency target
asks of the machine's cores. The load average is printed before and after each site: the
machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

from stargate_portal.scratch_databases import postgres_url_or_skip

HOST = "127.0.0.1"
PORT = 8765
TARGETS_MS = {
    "submit (Idempotency-Key)": 200,
    "job detail (pending)": 100,
    "job list (busy project)": 100,
    "queue overview": 100,
    "portal job page": 300,
    "console queue": 300,
    "console fair share": 300,
    # Not named by the issue's targets; measured at the same scale, with the pages' target.
    "portal dashboard": 300,
    "project page": 300,
    "project jobs section": 300,
    "project ledger": 300,
}
SUBMIT_TARGET_PER_SECOND = 150
FLOOR = ("/healthz (anonymous)", "/api/v1/me/ (token)")
"""What the stack costs before any feature's work (not targets): the health check (every
middleware, a ``SELECT 1`` and a ping of the cache) and the cheapest authenticated API request
(the token with its user, two rows)."""
LATENCY_TARGET_MS = 100
"""The API's p99 target; with closed-loop clients the mean latency is clients ÷ throughput."""
SWEEP_TIMES = 3
"""Requests per swept route (every other GET route of the site, one at a time)."""
SWEEP_SHOWN = 15
"""The slowest swept routes printed (every one that answered 5xx is printed too)."""


@dataclass(frozen=True)
class Figures:
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    failed: int
    sent: int = 0
    """Every request sent, the warm-up's too (the CPU figures are divided by it)."""


@dataclass(frozen=True)
class CpuPerRequest:
    """Milliseconds of CPU (user + system) per request: gunicorn's processes, PostgreSQL's,
    and the load client's own. Read from ``/proc``, so NaN where there is none."""

    server_ms: float
    database_ms: float
    client_ms: float

    @property
    def total_ms(self) -> float:
        return self.server_ms + self.database_ms + self.client_ms


ProcessTimes = dict[int, float]
"""Process id -> its CPU seconds so far."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per request kind")
    parser.add_argument("--drop-site", action="store_true", help="drop the kept site at the end")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        print(json.dumps(site_prepare()))
        return 0
    sites = kept_site("load benchmark")
    if sites is None:
        return 0
    url, bench_url = sites
    demo_url = sibling_database(url, "load_demo")
    static_root = tempfile.mkdtemp(prefix="stargate-load-static-")
    os.environ["STATIC_ROOT"] = static_root  # the production storage serves hashed names
    try:
        _demo_site(url, demo_url)
        _manage(demo_url, "manage.py", "collectstatic", "--noinput")
        results = {
            "demo site": _serve_and_load(demo_url, args.clients, args.seconds, args.workers),
            "benchmark site": _serve_and_load(bench_url, args.clients, args.seconds, args.workers),
        }
    finally:
        shutil.rmtree(static_root, ignore_errors=True)
        database_drop(url, demo_url)
        if args.drop_site:
            database_drop(url, bench_url)
    for line in _table(results, args.clients, args.workers):
        print(line, flush=True)
    return 0


# -- the sites -------------------------------------------------------------------------------


def kept_site(benchmark: str) -> tuple[str, str] | None:
    """``(DATABASE_URL, the kept benchmark site's URL)``, or None after saying why
    ``benchmark`` is skipped (no PostgreSQL, or no kept site)."""
    url = postgres_url_or_skip(benchmark)
    if url is None:
        return None
    kept = sibling_database(url, "admission_bench")
    if not _exists(kept):
        print(
            f"{benchmark}: skipped (no kept benchmark site; run "
            "`python -m booking.admission.benchmark --keep` first)"
        )
        return None
    return url, kept


def site_environment(database_url: str) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "stargate_portal.settings",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "load-benchmark-only-" + "x" * 40),
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": f"http://{HOST}:{PORT}",
        "SECURE_SSL_REDIRECT": "false",
        "CELERY_BROKER_URL": "memory://localhost/",
        "ADMISSION_ON_SUBMIT": "false",
        "API_USER_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "2",
        "WEB_BIND": f"{HOST}:{PORT}",
        "PYTHONPATH": str(Path.cwd()),
    }


@contextmanager
def kept_site_copy(url: str, kept: str, suffix: str) -> Iterator[dict[str, str]]:
    """A copy of the kept site (``<name>_<suffix>``, dropped at the end) with its static files
    collected: the environment of a process that uses it with the production settings and
    Django's test client."""
    copy = sibling_database(url, suffix)
    database_drop(url, copy)
    database_copy(url, copy, template=kept)
    static_root = tempfile.mkdtemp(prefix=f"stargate-{suffix}-static-")
    # The production settings (hashed static names: collected first), the test client's host.
    environment = site_environment(copy) | {
        "STATIC_ROOT": static_root,
        "ALLOWED_HOSTS": "testserver",
    }
    try:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput"],
            env=environment,
            check=True,
            capture_output=True,
        )
        yield environment
    finally:
        shutil.rmtree(static_root, ignore_errors=True)
        database_drop(url, copy)


def _manage(database_url: str, *command: str) -> str:
    done = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, *command],
        env=site_environment(database_url),
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def _demo_site(url: str, demo_url: str) -> None:
    database_drop(url, demo_url)
    _create(url, demo_url)
    for command in ("migrate", "seed_demo", "demo_site"):
        _manage(demo_url, "manage.py", command)


def site_prepare() -> dict[str, Any]:
    """In the served site's database: a member of the busiest project (and of its
    organisation) with a token and a session, a staff member with both, a pending job deep in
    that project's queue, a fresh cycle, and the routes to sweep with those rows in them."""
    import django

    django.setup()
    from importlib import import_module

    from django.conf import settings

    from accounts.models import Membership, MembershipRole, User
    from accounts.services.tokens import api_token_create
    from booking.admission.bench_site import LOAD_MEMBER_EMAIL, busiest_project
    from booking.admission.cycle import admission_run
    from booking.admission.route_sweep import sweep_routes, sweep_rows
    from booking.jobs.services import job_submit
    from booking.ledger.checkpoints import ledger_checkpoints_advance
    from booking.models import Allocation, Job, JobState, ProjectMember, ProjectRole

    project = busiest_project()
    if project is None:
        raise RuntimeError("the site has no project")
    member, _ = User.objects.get_or_create(email=LOAD_MEMBER_EMAIL)
    ProjectMember.objects.get_or_create(
        project=project, user=member, defaults={"role": ProjectRole.MEMBER}
    )
    Membership.objects.get_or_create(
        organisation_id=project.organisation_id,
        user=member,
        defaults={"role": MembershipRole.MEMBER},
    )
    staff, _ = User.objects.update_or_create(  # the admin's pages too
        email="load-benchmark-staff@example.org",
        defaults={"is_staff": True, "is_superuser": True},
    )
    gpu_type = (
        Job.objects.filter(project=project).values_list("gpu_type__name", flat=True).first()
        or Allocation.objects.filter(project=project)
        .values_list("gpu_type__name", flat=True)
        .first()
    )
    while Job.objects.filter(project=project, state=JobState.PENDING).count() < 50:
        job_submit(
            user=member,
            project=project,
            gpu_type_name=str(gpu_type),
            gpus=8,
            walltime_minutes=24 * 60,
            name="load-benchmark",
            script="#!/bin/sh\nsleep 60\n",
            container_image="",
            command="",
            environment={},
            idempotency_key="",
        )
    admission_run()
    # As the beat task does every 15 minutes on a running site: the balances and the project
    # pages read each allocation's checkpoint and the entries after it, not its whole history.
    ledger_checkpoints_advance()
    pending = Job.objects.filter(project=project, state=JobState.PENDING).order_by(
        "submitted_at", "pk"
    )
    deep = pending[min(500, pending.count() - 1)]
    _, token = api_token_create(user=member, name="load benchmark", expires_in_days=1)
    _, staff_token = api_token_create(user=staff, name="load benchmark", expires_in_days=1)
    from django.db import connection

    # Fresh statistics and visibility map, as autovacuum keeps them on a running site (the
    # cycles of the admission benchmark changed thousands of jobs since the site was built).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    engine = import_module(settings.SESSION_ENGINE)
    sessions = {}
    for name, user in (("member", member), ("staff", staff)):
        session = engine.SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[0]
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.create()
        sessions[name] = session.session_key
    return {
        "project": project.pk,
        "gpu_type": gpu_type,
        "job": deep.pk,
        "token": token,
        "staff_token": staff_token,
        "sessions": sessions,
        "sweep": [[r.route, r.who, r.path] for r in sweep_routes(sweep_rows(project, deep))],
        "pending": Job.objects.filter(state=JobState.PENDING).count(),
    }


# -- serving and loading ---------------------------------------------------------------------


def _serve_and_load(
    database_url: str, clients: int, seconds: float, workers: int
) -> dict[str, Any]:
    _manage(database_url, "manage.py", "migrate")
    facts = json.loads(_manage(database_url, "-m", "booking.admission.load_benchmark", "--prepare"))
    server = subprocess.Popen(  # noqa: S603 (our own gunicorn)
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--config",
            "python:stargate_portal.gunicorn_conf",
            "stargate_portal.wsgi",
        ],
        env=site_environment(database_url) | {"WEB_CONCURRENCY": str(workers)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up()
        load_before = os.getloadavg()
        figures, cpu = {}, {}
        for name, request in _requests(facts).items():
            before = _cpu_snapshot(server.pid)
            figures[name] = asyncio.run(_load(request, clients, seconds))
            cpu[name] = _cpu_per_request(before, _cpu_snapshot(server.pid), figures[name].sent)
        load_after = os.getloadavg()
        swept = _sweep(facts)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "facts": facts,
        "figures": figures,
        "cpu": cpu,
        "load": (load_before, load_after),
        "swept": swept,
    }


# -- where the CPU goes ----------------------------------------------------------------------

PROC = Path("/proc")


def process_times(keep: Callable[[int, str, int], bool], proc: Path = PROC) -> ProcessTimes:
    """CPU seconds (user + system) of each process ``keep(pid, name, parent pid)`` selects,
    read from ``proc`` (Linux's ``/proc``; empty where there is none). A process that ends
    while it is read is left out."""
    ticks = os.sysconf("SC_CLK_TCK")
    times: ProcessTimes = {}
    if not proc.is_dir():
        return times
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (name) state ppid … utime stime …": the name may hold spaces and parentheses.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if keep(int(entry.name), name, int(fields[1])):
            times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return times


def _cpu_snapshot(server: int) -> dict[str, ProcessTimes | float]:
    return {
        "server": process_times(lambda pid, _name, parent: server in (pid, parent)),
        "database": process_times(lambda _pid, name, _parent: name.startswith("postgres")),
        "client": time.process_time(),
    }


def cpu_used(before: ProcessTimes, after: ProcessTimes) -> float:
    """CPU seconds the processes used between two readings: a process started in between
    counts whole; one that ended in between is not seen (its last seconds are lost)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def _cpu_per_request(
    before: dict[str, ProcessTimes | float], after: dict[str, ProcessTimes | float], sent: int
) -> CpuPerRequest:
    def per_request(part: str) -> float:
        old, new = before[part], after[part]
        if isinstance(old, dict) and isinstance(new, dict):
            used = cpu_used(old, new) if new else math.nan
        else:
            used = float(new) - float(old)  # type: ignore[arg-type]
        return used * 1000 / sent if sent else math.nan

    return CpuPerRequest(per_request("server"), per_request("database"), per_request("client"))


def _wait_until_up() -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if asyncio.run(_send(_request("GET", "/healthz"))) < 500:
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not start")


def _request(
    method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{PORT}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _requests(facts: dict[str, Any]) -> dict[str, Callable[[], bytes]]:
    api = {"Authorization": f"Token {facts['token']}", "Accept": "application/json"}
    member = {"Cookie": f"sessionid={facts['sessions']['member']}"}
    staff = {"Cookie": f"sessionid={facts['sessions']['staff']}"}
    body = json.dumps(
        {
            "project": facts["project"],
            "gpu_type": facts["gpu_type"],
            "gpus": 1,
            "walltime_minutes": 60,
            "name": "load",
            "script": "#!/bin/sh\nsleep 60\n",
        }
    ).encode()
    job, project = facts["job"], facts["project"]
    return {
        "submit (Idempotency-Key)": lambda: _request(
            "POST", "/api/v1/jobs/", api | {"Idempotency-Key": uuid.uuid4().hex}, body
        ),
        "job detail (pending)": lambda: _request("GET", f"/api/v1/jobs/{job}/", api),
        "job list (busy project)": lambda: _request("GET", f"/api/v1/jobs/?project={project}", api),
        "queue overview": lambda: _request("GET", "/api/v1/queue/", api),
        "portal job page": lambda: _request("GET", f"/jobs/{job}/", member),
        "console queue": lambda: _request("GET", "/console/cluster/queue/", staff),
        "console fair share": lambda: _request("GET", "/console/cluster/fair-share/", staff),
        "portal dashboard": lambda: _request("GET", "/", member),
        "project page": lambda: _request("GET", f"/projects/{project}/", member),
        "project jobs section": lambda: _request("GET", f"/projects/{project}/jobs/", member),
        "project ledger": lambda: _request("GET", f"/projects/{project}/ledger/", member),
        "/healthz (anonymous)": lambda: _request("GET", "/healthz"),
        "/api/v1/me/ (token)": lambda: _request("GET", "/api/v1/me/", api),
    }


def _sweep(facts: dict[str, Any]) -> dict[str, tuple[str, int, float]]:
    """Every swept route (``route_sweep``), one request at a time, ``SWEEP_TIMES`` times:
    route -> (path, status, median latency in ms)."""
    api = {"Accept": "application/json"}
    headers = {
        "token": api | {"Authorization": f"Token {facts['token']}"},
        "staff_token": api | {"Authorization": f"Token {facts['staff_token']}"},
        "member": {"Cookie": f"sessionid={facts['sessions']['member']}"},
        "staff": {"Cookie": f"sessionid={facts['sessions']['staff']}"},
    }
    swept = {}
    for route, who, path in facts["sweep"]:
        times, status = [], 0
        for _ in range(SWEEP_TIMES):
            started = time.perf_counter()
            status = asyncio.run(_send(_request("GET", path, headers[who])))
            times.append((time.perf_counter() - started) * 1000)
        swept[route] = (path, status, sorted(times)[len(times) // 2])
    return swept


async def _send(raw: bytes) -> int:
    reader, writer = await asyncio.open_connection(HOST, PORT)
    try:
        writer.write(raw)
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
    return int(response[9:12])


async def _load(request: Callable[[], bytes], clients: int, seconds: float) -> Figures:
    latencies: list[float] = []
    failed = sent = 0
    warm_until = time.perf_counter() + 1.0
    stop = warm_until + seconds

    async def client() -> None:
        nonlocal failed, sent
        while (started := time.perf_counter()) < stop:
            status = await _send(request())
            sent += 1
            if started >= warm_until:
                latencies.append((time.perf_counter() - started) * 1000)
                failed += not 200 <= status < 300

    await asyncio.gather(*(client() for _ in range(clients)))
    ordered = sorted(latencies)
    return Figures(
        requests=len(ordered),
        per_second=len(ordered) / seconds,
        p50_ms=_rank(ordered, 0.50),
        p99_ms=_rank(ordered, 0.99),
        failed=failed,
        sent=sent,
    )


def _rank(ordered: Sequence[float], fraction: float) -> float:
    if not ordered:
        return math.nan
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def _table(results: dict[str, dict[str, Any]], clients: int, workers: int) -> list[str]:
    demo, bench = results["demo site"], results["benchmark site"]
    threads = int(os.environ.get("WEB_THREADS") or 1)  # passed on to gunicorn_conf
    served = (
        f"{workers} sync workers" if threads == 1 else f"{workers} workers of {threads} threads"
    )
    lines = [
        f"clients: {clients} concurrent, gunicorn {served}, on {os.cpu_count()} cores",
        f"demo site: {demo['facts']['pending']:,} pending jobs; benchmark site: "
        f"{bench['facts']['pending']:,} pending jobs",
    ]
    for name, result in results.items():
        (before, after) = result["load"]
        lines.append(
            f"load average during the {name}: {before[0]:.2f} before, {after[0]:.2f} after"
        )
    header = (
        f"{'request':<26} {'demo req/s':>10} {'p50':>7} {'p99':>7}   "
        f"{'bench req/s':>11} {'p50':>7} {'p99':>7} {'failed':>7}  "
        f"{'CPU ms/request: web':>19} {'db':>5} {'client':>6}"
    )
    lines.append(header + "  target p99")
    for name, target in TARGETS_MS.items():
        met = "met" if bench["figures"][name].p99_ms <= target else "NOT met"
        if name.startswith("submit"):
            met += f"; {bench['figures'][name].per_second:.0f}/s vs {SUBMIT_TARGET_PER_SECOND}/s"
        lines.append(_row(name, demo, bench) + f"  ≤{target} ms ({met})")
    lines.append("the stack's floor, served and loaded the same way (no target):")
    lines += [_row(name, demo, bench) for name in FLOOR]
    return lines + _bound(clients) + _sweep_table(demo["swept"], bench["swept"])


def _row(name: str, demo: dict[str, Any], bench: dict[str, Any]) -> str:
    small, big = demo["figures"][name], bench["figures"][name]
    cpu: CpuPerRequest = bench["cpu"][name]
    return (
        f"{name:<26} {small.per_second:>10.1f} {small.p50_ms:>7.0f} {small.p99_ms:>7.0f}   "
        f"{big.per_second:>11.1f} {big.p50_ms:>7.0f} {big.p99_ms:>7.0f} "
        f"{small.failed + big.failed:>7}  "
        f"{cpu.server_ms:>19.1f} {cpu.database_ms:>5.1f} {cpu.client_ms:>6.1f}"
    )


def _bound(clients: int) -> list[str]:
    """What the API's latency target asks of the machine: closed-loop clients wait for each
    answer, so the mean latency is clients ÷ throughput (Little's law)."""
    needed = clients * 1000 / LATENCY_TARGET_MS
    cores = os.cpu_count() or 1
    return [
        f"a p99 of {LATENCY_TARGET_MS} ms at {clients} clients needs a mean under "
        f"{LATENCY_TARGET_MS} ms, so at least {needed:.0f} requests/s: at most "
        f"{cores * 1000 / needed:.1f} ms of CPU per request (web, db and client together) "
        f"on {cores} cores"
    ]


def _sweep_table(
    demo: dict[str, tuple[str, int, float]], bench: dict[str, tuple[str, int, float]]
) -> list[str]:
    def statuses(swept: dict[str, tuple[str, int, float]]) -> str:
        classes = [f"{status // 100}xx" for _path, status, _ms in swept.values()]
        return ", ".join(f"{c} {classes.count(c)}" for c in sorted(set(classes)))

    lines = [
        f"every other GET route, one request at a time (median of {SWEEP_TIMES}): "
        f"{len(bench)} routes on the benchmark site ({statuses(bench)}), "
        f"{len(demo)} on the demo site ({statuses(demo)})",
        f"{'slowest on the benchmark site':<60} {'demo ms':>8} {'bench ms':>9} {'status':>7}",
    ]
    ranked = sorted(bench, key=lambda route: bench[route][2], reverse=True)
    errors = [
        route for route in ranked if bench[route][1] >= 500 or demo.get(route, ("", 0))[1] >= 500
    ]
    for route in dict.fromkeys(ranked[:SWEEP_SHOWN] + errors):
        path, status, ms = bench[route]
        small = f"{demo[route][2]:.0f}" if route in demo else "—"
        lines.append(f"{path[:60]:<60} {small:>8} {ms:>9.0f} {status:>7}")
    return lines


# -- databases -------------------------------------------------------------------------------


def sibling_database(url: str, suffix: str) -> str:
    parsed = urlparse(url)
    name = f"{parsed.path.lstrip('/') or 'postgres'}_{suffix}"
    return urlunparse(parsed._replace(path=f"/{name}"))


def _maintenance(url: str) -> str:
    return urlunparse(urlparse(url)._replace(scheme="postgresql", path="/postgres"))


def _exists(database_url: str) -> bool:
    import psycopg

    name = urlparse(database_url).path.lstrip("/")
    with psycopg.connect(_maintenance(database_url), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return found is not None


def _create(url: str, database_url: str) -> None:
    import psycopg

    name = urlparse(database_url).path.lstrip("/")
    with psycopg.connect(_maintenance(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def database_copy(url: str, database_url: str, *, template: str) -> None:
    """A copy of the database of ``template`` (no one may be connected to it meanwhile)."""
    import psycopg

    name = urlparse(database_url).path.lstrip("/")
    source = urlparse(template).path.lstrip("/")
    with psycopg.connect(_maintenance(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')


def database_drop(url: str, database_url: str) -> None:
    import psycopg

    name = urlparse(database_url).path.lstrip("/")
    with psycopg.connect(_maintenance(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
