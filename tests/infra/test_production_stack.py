"""The production Procfile, as an operator starts it: gunicorn with DEBUG off, the general
worker, the admission worker and beat, on PostgreSQL and Redis, each through
``manage.py start`` on a fresh database that nothing has migrated.

A person signs in through the login page (its CSS served by the app itself), makes an API
token, submits a job with it; the job is admitted and finishes on the simulator, and
``/metrics`` shows the cycle and the job. Requests come as the TLS proxy sends them
(``X-Forwarded-Proto: https``), so the production hardening stays on.
"""

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse, urlunparse

import psycopg
import pytest

from tests.conftest import require_service
from tests.infra.test_celery_redis import _redis_reachable

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "stargate-demo-2026"
# What the test's own environment sets for pytest and a production process must not inherit.
NOT_INHERITED = (
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SITE_URL",
    "ALLOWED_HOSTS",
    "PROMETHEUS_MULTIPROC_DIR",
    "LOG_FORMAT",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check: Callable[[], Any], what: str, stack: "Stack", seconds: float) -> Any:
    """Poll ``check`` until it returns something truthy; fail early if a process died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        stack.fail_if_a_process_exited()
        time.sleep(0.5)
    pytest.fail(f"timed out after {seconds:.0f} s waiting for: {what}\n{stack.logs_tail()}")


# -- the stack -------------------------------------------------------------------------------


@dataclass
class Stack:
    """The Procfile's processes, each in its own process group, with its own log file."""

    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self) -> None:
        for line in (ROOT / "Procfile").read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, command = (part.strip() for part in line.split(":", 1))
            with (self.logs / f"{name}.log").open("wb") as log:
                self.processes[name] = subprocess.Popen(
                    ["/bin/sh", "-c", command],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

    def stop(self) -> None:
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        for process in self.processes.values():
            _signal_group(process, signal.SIGKILL)  # whatever is left of the group
            process.wait(timeout=10)

    def fail_if_a_process_exited(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}\n{self.logs_tail()}")

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def logs_tail(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)[-3000:]}" for name in self.processes)

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A new, empty PostgreSQL database beside the test one, dropped at the end."""
    url = os.environ.get("DATABASE_URL", "")
    require_service(url.startswith(("postgres://", "postgresql://")), "needs DATABASE_URL=postgres")
    parsed = urlparse(url)
    name = f"{parsed.path.lstrip('/')}_production_stack"
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    yield urlunparse(parsed._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def stack(scratch_database: str, tmp_path: Path) -> Iterator[tuple[Stack, int, str]]:
    """The production processes on a free port; yields (stack, port, metrics token)."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    require_service(
        broker.startswith("redis://") and _redis_reachable(broker),
        "needs CELERY_BROKER_URL=redis://… pointing at a running Redis",
    )
    _broker_queues_empty(broker)
    port, token = _free_port(), secrets.token_urlsafe(24)
    (tmp_path / "logs").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED} | {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": "https://portal.stargate.test",
        "DATABASE_URL": scratch_database,
        "CELERY_BROKER_URL": broker,
        "CACHE_URL": broker,
        "PORT": str(port),
        "STATIC_ROOT": str(tmp_path / "static"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "beat-schedule"),
        "METRICS_TOKEN": token,
        "WEB_CONCURRENCY": "2",
        "WORKER_CONCURRENCY": "1",
        "ADMISSION_CYCLE_SECONDS": "2",
        "JOBS_RECONCILE_SECONDS": "2",
        "SIMULATOR_SITE": "H100=4;H200=2",
    }
    running = Stack(env=env, logs=tmp_path / "logs")
    running.start()
    try:
        yield running, port, token
    finally:
        running.stop()


def _broker_queues_empty(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    stale = list(client.scan_iter("celery*")) + list(client.scan_iter("admission*"))
    if stale:
        client.delete(*stale)


# -- a client as the proxy forwards it -------------------------------------------------------


class Browser:
    """Cookies and CSRF as a browser keeps them, over the plain HTTP the proxy speaks to the
    web process; every request says the proxy received it over HTTPS."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        # The session cookie is Secure (production): keep it on the proxy's plain HTTP hop.
        policy = DefaultCookiePolicy(secure_protocols=("https", "wss", "http"))
        self.cookies = CookieJar(policy)
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(
        self,
        path: str,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        method: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        all_headers = {
            "X-Forwarded-Proto": "https",
            "Referer": f"https://127.0.0.1:{self.base.rsplit(':', 1)[1]}/",
        } | (headers or {})
        request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1
            self.base + path, data=data, headers=all_headers, method=method
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        status, _headers, content = self.request(
            path, data=data, headers={"Content-Type": "application/json", **headers}
        )
        return status, json.loads(content or b"null")

    def cookie(self, name: str) -> str:
        return next(cookie.value or "" for cookie in self.cookies if cookie.name == name)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _healthy(browser: Browser) -> bool:
    try:
        status, _headers, _body = browser.request("/healthz")
    except OSError:
        return False
    return status == 200


def _stylesheet(html: str) -> str:
    match = re.search(r'<link rel="stylesheet" href="(/static/[^"]+\.css)"', html)
    assert match, html[:2000]
    return match.group(1)


# -- the test --------------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.postgres
def test_the_production_procfile_serves_the_portal_and_runs_a_job_to_its_end(
    stack: tuple[Stack, int, str],
) -> None:
    running, port, metrics_token = stack
    browser = Browser(port)
    _wait(lambda: _healthy(browser), "/healthz answers 200", running, seconds=180)
    running.manage("seed_demo")
    running.manage("demo_site")

    # The login page and its hashed, compressed CSS come from gunicorn itself (DEBUG off).
    status, _headers, page = browser.request("/accounts/login/")
    assert status == 200
    html = page.decode()
    css = _stylesheet(html)
    assert re.search(r"/static/css/portal\.[0-9a-f]{12}\.css", css), css
    status, headers, content = browser.request(css)
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert b"{" in content
    status, _headers, docs = browser.request("/api/docs/")
    assert status == 200
    swagger_css = re.search(rb'href="(/static/drf_spectacular_sidecar/[^"]+\.css)"', docs)
    assert swagger_css, docs[:2000]
    assert browser.request(swagger_css.group(1).decode())[0] == 200

    # Sign in through the form, as a person does.
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert csrf
    form = urlencode(
        {"csrfmiddlewaretoken": csrf.group(1), "login": "alice@uio.no", "password": DEMO_PASSWORD}
    )
    status, headers, _body = browser.request(
        "/accounts/login/",
        data=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 302, _body[:1000]
    assert browser.request(headers["Location"])[0] == 200

    # An API token made in the session, then only the token.
    status, created = browser.json(
        "/api/v1/tokens/",
        {"name": "production test", "expires_in_days": 1},
        **{"X-CSRFToken": browser.cookie("csrftoken")},
    )
    assert status == 201, created
    api = Browser(port)
    token = {"Authorization": f"Token {created['token']}"}
    status, projects = api.json("/api/v1/projects/", **token)
    assert status == 200, projects
    project = next(p for p in projects["results"] if p["name"].startswith("NorLLM"))
    script = "#!/bin/bash\n# sim: runtime=3s exit=0\npython train.py\n"
    body = {"project": project["id"], "gpu_type": "H100", "gpus": 8, "walltime_minutes": 10}
    status, headers, content = api.request(
        "/api/v1/jobs/",
        data=json.dumps(body | {"name": "production smoke", "script": script}).encode(),
        headers={"Content-Type": "application/json", **token},
    )
    assert status == 201, content
    job = json.loads(content)
    submit_id = headers["X-Request-ID"]

    def finished() -> dict[str, Any] | None:
        state = api.json(f"/api/v1/jobs/{job['id']}/", **token)[1]
        return state if state["state"] not in ("pending", "admitted", "running") else None

    done = _wait(finished, "the job to finish", running, seconds=120)
    assert done["state"] == "completed", done
    assert done["exit_code"] == 0

    # /metrics: refused to an anonymous caller, and shows the cycle and the job to the token.
    assert browser.request("/metrics")[0] == 403
    status, _headers, exposition = api.request(
        "/metrics", headers={"Authorization": f"Bearer {metrics_token}"}
    )
    assert status == 200
    metrics = exposition.decode()
    assert _value(metrics, "stargate_admission_cycle_duration_seconds_count") >= 1
    assert _value(metrics, "stargate_admission_cycle_admissions_sum") >= 1
    assert _value(metrics, 'stargate_ledger_movements_total{kind="hold"}') >= 1
    assert _value(metrics, 'stargate_ledger_movements_total{kind="charge"}') >= 1
    submits = (
        'stargate_http_request_duration_seconds_count{method="POST",status="201",view="job-list"}'
    )
    assert _value(metrics, submits) == 1
    assert 'stargate_gpus{gpu_type="H100",state="free"}' in metrics
    assert 'stargate_jobs_pending{gpu_type="H100",tier="1"}' in metrics
    assert 'stargate_celery_queue_length{queue="admission"}' in metrics
    assert _value(metrics, "stargate_admission_last_cycle_timestamp_seconds") > time.time() - 60

    # Structured logs: the submission's JSON line, and the cycle it asked for, share its id.
    submit_lines = [line for line in _json_lines(running.log("web")) if line.get("status") == 201]
    (submitted,) = [line for line in submit_lines if line.get("path") == "/api/v1/jobs/"]
    assert submitted["correlation_id"] == submit_id
    assert submitted["user_id"] is not None
    assert submitted["duration_ms"] > 0
    tasks = [line for line in _json_lines(running.log("admission")) if line.get("event") == "task"]
    assert any(line["correlation_id"] == submit_id for line in tasks), tasks[-5:]


def _value(exposition: str, series: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    pytest.fail(f"{series} is not in /metrics")


def _json_lines(log: str) -> list[dict[str, Any]]:
    lines = []
    for line in log.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines
