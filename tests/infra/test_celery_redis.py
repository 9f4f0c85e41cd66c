"""A real Celery worker on Redis sends the sign-up confirmation e-mail (no eager mode).

E-mails go through the outbox (a table), so the worker works on the test database: PostgreSQL.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from stargate_portal.celery import app as celery_app
from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-passphrase-1"


def _redis_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 2):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_broker() -> str:
    url = settings.CELERY_BROKER_URL
    require_service(
        url.startswith("redis://") and _redis_reachable(url),
        "needs CELERY_BROKER_URL=redis://… pointing at a running Redis",
    )
    return url


@pytest.fixture
def worker(redis_broker: str, tmp_path: Path) -> Iterator[Path]:
    """Start a real ``celery worker`` process; yield the folder its e-mails are written to."""
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    db = connection.settings_dict
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "stargate_portal.settings",
        "SECRET_KEY": "worker-test-secret",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "CELERY_BROKER_URL": redis_broker,
        "EMAIL_URL": f"filemail:///{outbox}",
    }
    celery_app.control.purge()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "stargate_portal",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            f"--hostname=test-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait(_pinged, "worker answers ping", process)
        yield outbox
    finally:
        process.terminate()
        process.wait(timeout=20)


def _pinged() -> bool:
    """Whether a worker answers a ping, asked on a connection of its own, closed after it: the
    pool's connection would keep the reply consumer, and a test that forks later (the capacity
    benchmark's clients) inherited it and hung in kombu's after-fork clean-up, waiting for the
    answer to its BRPOP."""
    with celery_app.connection_for_write() as broker:
        return bool(celery_app.control.ping(timeout=0.5, connection=broker))


def _wait(check: object, what: str, process: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        if process.poll() is not None:
            pytest.fail(f"worker exited early:\n{process.stdout.read() if process.stdout else ''}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for: {what}")


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_signup_confirmation_is_sent_by_a_real_worker_through_redis(
    worker: Path, request: pytest.FixtureRequest
) -> None:
    celery_app.conf.task_always_eager = False
    request.addfinalizer(lambda: setattr(celery_app.conf, "task_always_eager", True))
    response = Client().post(
        "/accounts/signup/",
        {"email": "erin@uib.no", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302, response.content[:500]

    message = _wait_for_email(worker, seconds=30)
    assert "To: erin@uib.no" in message
    assert "/accounts/confirm-email/" in message


def _wait_for_email(outbox: Path, *, seconds: float) -> str:
    """The first complete e-mail the worker wrote (the file backend writes it in steps)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in outbox.iterdir():
            text = path.read_text()
            if "/accounts/confirm-email/" in text:
                return text
        time.sleep(0.2)
    pytest.fail("the worker wrote no complete e-mail in time")
