"""A broker outage never turns a committed write into a 500, and the work is done once the
broker is back.

Each test starts its own ``redis-server`` on a free port and points Celery at it. After a
first message went through (so the app holds a live connection), the broker is stopped in the
middle of a request, once the job is saved and before the commit queues its task: the write
answers as usual, the failure is logged and counted (``task_enqueue``), and when the broker
returns a real worker does what beat would have it do.
"""

import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import kombu.pools
import pytest
from django.conf import settings
from django.db import connection
from django.db.models.signals import post_save
from django.test import Client
from pytest_django import Settings
from rest_framework.test import APIClient

from accounts.models import OutboxEmail, User
from accounts.tasks import outbox_send_due
from booking.admission.tasks import admission_cycle_run
from booking.models import Job, JobState, Project
from stargate_portal.broker_config import PUBLISH_RETRY_POLICY, broker_transport_options
from stargate_portal.celery import app as celery_app
from stargate_portal.task_enqueue import enqueue_failures, task_enqueue
from tests.conftest import require_service
from tests.fixtures.jobs import SUBMIT_URL, form_data, job_body
from tests.fixtures.redis import RedisServer, wait_for

ROOT = Path(__file__).resolve().parents[2]
ENQUEUE_LOGGER = "stargate_portal.task_enqueue"


def forget_broker_connections() -> None:
    # Celery keeps its connection and producer pools on the app and in kombu's registry; drop
    # them so the next message goes to the broker the settings name now.
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RedisServer]:
    """Celery publishes to a Redis of this test's own, for real (no eager mode)."""
    require_service(shutil.which("redis-server") is not None, "needs redis-server on PATH")
    server = RedisServer(tmp_path)
    server.start()
    saved = celery_app.conf.broker_url
    settings.CELERY_BROKER_URL = server.url
    monkeypatch.setenv("CELERY_BROKER_URL", server.url)  # Celery reads it before its conf
    celery_app.conf.broker_url = server.url
    # What the settings give a Redis broker (its timeouts), whatever broker the suite runs on.
    saved_options = celery_app.conf.broker_transport_options
    celery_app.conf.broker_transport_options = broker_transport_options(
        server.url, timeout_seconds=settings.CELERY_BROKER_TIMEOUT_SECONDS
    )
    celery_app.conf.task_always_eager = False
    forget_broker_connections()
    try:
        yield server
    finally:
        server.thaw()
        server.stop()
        celery_app.conf.broker_url = saved
        celery_app.conf.broker_transport_options = saved_options
        celery_app.conf.task_always_eager = True
        forget_broker_connections()


def stop_after_a_first_message(server: RedisServer) -> None:
    outbox_send_due.delay()  # a live connection in the pool, as in a running web process
    server.stop()


@contextmanager
def broker_stopped_when_a_job_is_saved(server: RedisServer) -> Iterator[None]:
    def stop(**kwargs: object) -> None:
        server.stop()

    post_save.connect(stop, sender=Job, weak=False, dispatch_uid="stop-the-broker")
    try:
        yield
    finally:
        post_save.disconnect(sender=Job, dispatch_uid="stop-the-broker")


def start_worker(server: RedisServer, outbox: Path) -> subprocess.Popen[str]:
    """A real worker on the test database and broker; e-mails go to files in ``outbox``."""
    db = connection.settings_dict
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "stargate_portal.settings",
        "SECRET_KEY": "worker-test-secret",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "CELERY_BROKER_URL": server.url,
        "EMAIL_URL": f"filemail:///{outbox}",
    }
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "stargate_portal", "worker", "--pool=solo"),
            *("--without-gossip", "--without-mingle", f"--hostname=outage-{os.getpid()}@%h"),
            # Every queue, the admission cycle's own included (CELERY_TASK_ROUTES).
            *("-Q", f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.ADMISSION_QUEUE}"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_writes_succeed_while_the_broker_is_down_and_the_work_is_done_when_it_is_back(
    broker: RedisServer,
    alice: User,
    alice_project: Project,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox_send_due.delay()  # a live connection in the pool, as in a running web process
    api = APIClient()
    api.force_authenticate(alice)
    portal = Client()
    portal.force_login(alice)

    with caplog.at_level(logging.ERROR, logger=ENQUEUE_LOGGER):
        with broker_stopped_when_a_job_is_saved(broker):  # during the request, before the commit
            submitted = api.post("/api/v1/jobs/", job_body(alice_project), format="json")
        assert not broker.answers()
        from_portal = portal.post(SUBMIT_URL, form_data(alice_project))
        reset = Client().post("/accounts/password/reset/", {"email": alice.email})

    assert submitted.status_code == 201, submitted.content[:300]
    assert from_portal.status_code == 302, from_portal.content[:300]
    assert reset.status_code == 302, reset.content[:300]
    assert Job.objects.count() == 2
    assert Job.objects.filter(pk=submitted.json()["id"], state=JobState.PENDING).exists()
    (email,) = OutboxEmail.objects.filter(to=[alice.email], sent_at__isnull=True)
    assert enqueue_failures()["booking.admission.tasks.admission_cycle_run"] >= 1
    assert enqueue_failures()["accounts.tasks.outbox_email_send"] >= 1
    assert any("broker is unavailable" in r.getMessage() for r in caplog.records)

    # The broker is back: beat queues its periodic tasks and a worker runs them.
    broker.start()
    forget_broker_connections()
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    OutboxEmail.objects.update(next_attempt_at=email.created_at)  # as a minute later
    worker = start_worker(broker, outbox)
    try:
        admission_cycle_run.delay()
        outbox_send_due.delay()
        wait_for(
            lambda: not Job.objects.filter(state=JobState.PENDING).exists(),
            "the jobs admitted",
            seconds=60,
        )
        wait_for(
            lambda: OutboxEmail.objects.filter(pk=email.pk, sent_at__isnull=False).exists(),
            "the password-reset e-mail sent",
            seconds=30,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=20)

    assert Job.objects.count() == 2
    (sent,) = [p.read_text() for p in outbox.iterdir() if "password" in p.read_text().lower()]
    assert f"To: {alice.email}" in sent


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_healthz_logs_the_tasks_that_could_not_be_queued(
    broker: RedisServer, alice: User, alice_project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    stop_after_a_first_message(broker)
    api = APIClient()
    api.force_authenticate(alice)
    assert api.post("/api/v1/jobs/", job_body(alice_project), format="json").status_code == 201

    with caplog.at_level(logging.WARNING, logger="stargate_portal.health"):
        response = Client().get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unavailable"
    assert "admission_cycle_run" not in response.content.decode()
    assert any("admission_cycle_run" in r.getMessage() for r in caplog.records)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_broker_that_stops_answering_holds_one_publish_for_its_timeouts_then_none(
    broker: RedisServer,
    alice: User,
    alice_project: Project,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Redis that accepts connections and never answers (frozen) made a publish wait
    forever, and each write that queued a task held its web worker until gunicorn killed it."""
    outbox_send_due.delay()  # a live connection in the pool, as in a running web process
    api = APIClient()
    api.force_authenticate(alice)
    timeout = settings.CELERY_BROKER_TIMEOUT_SECONDS
    attempts = PUBLISH_RETRY_POLICY["max_retries"] + 1
    pool = ThreadPoolExecutor(1)  # a publish that hangs fails the test, not the whole run

    def timed_enqueue() -> tuple[bool, float]:
        started = time.monotonic()
        return task_enqueue(outbox_send_due), time.monotonic() - started

    broker.freeze()
    try:
        with caplog.at_level(logging.ERROR, logger=ENQUEUE_LOGGER):
            queued, first = pool.submit(timed_enqueue).result(timeout=30)
            started = time.monotonic()
            submitted = api.post("/api/v1/jobs/", job_body(alice_project), format="json")
            submit_seconds = time.monotonic() - started
        health = Client().get("/healthz")
    finally:
        broker.thaw()
        pool.shutdown()

    # The first publish waited for its timeouts (the broker really did not answer), no longer.
    assert queued is False
    assert timeout <= first < (attempts + 1) * timeout + 2  # and the retry's reconnect
    # The write after it did not wait for the broker at all: its task is counted as not
    # queued, and the job is saved and pending, for the next cycle to find.
    assert submitted.status_code == 201, submitted.content[:300]
    assert submit_seconds < timeout
    assert Job.objects.filter(pk=submitted.json()["id"], state=JobState.PENDING).exists()
    assert enqueue_failures()["booking.admission.tasks.admission_cycle_run"] >= 1
    messages = [r.getMessage() for r in caplog.records if r.name == ENQUEUE_LOGGER]
    assert "Timeout reading from socket" in messages[0]
    assert any("the broker failed less than" in m for m in messages[1:])
    assert health.status_code == 503
    assert health.json()["checks"]["broker"] == "unavailable"

    # Once the pause is over, the process tries the broker again, and it takes the task.
    settings.CELERY_BROKER_OUTAGE_SECONDS = 0
    assert task_enqueue(outbox_send_due) is True
