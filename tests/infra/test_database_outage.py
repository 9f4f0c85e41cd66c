"""A request the database cannot serve (PostgreSQL unreachable, a statement stopped by the web
process's statement timeout behind a lock) gets 503 with Retry-After: in the error shape under
/api/, a page that reads nothing from the database elsewhere. Never a 500, never a half-written
record, and a retry completes the work once."""

import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from booking.models import Job, JobEvent, Project
from stargate_portal import database_errors
from tests.fixtures.jobs import SUBMIT_URL, form_data, job_body

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

API_LOGGER = "stargate_portal.api"
TIMEOUT_MS = 300
"""The statement timeout of these tests' connection (the web process's default is 15 s)."""


@contextmanager
def database_unreachable() -> Iterator[None]:
    """The next connection goes to a port nothing listens on (refused at once)."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = 1
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


@contextmanager
def database_silent() -> Iterator[socket.socket]:
    """The next connections go to a port where the kernel accepts them and nothing ever
    answers: as a database host behind a network that drops packets, each attempt waits the
    whole connect timeout (libpq's shortest, 2 s). Yields the listening socket, whose queue
    holds one connection per attempt."""
    saved = dict(connection.settings_dict)
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        connection.close()
        connection.settings_dict["PORT"] = listener.getsockname()[1]
        connection.settings_dict["OPTIONS"] = saved["OPTIONS"] | {"connect_timeout": 2}
        try:
            yield listener
        finally:
            connection.close()
            connection.settings_dict.update(saved)
            database_errors.DATABASE_OUTAGE.forget()


def _attempts(listener: socket.socket) -> int:
    """Connection attempts queued on ``listener`` since the last call."""
    listener.setblocking(False)
    attempts = 0
    while True:
        try:
            accepted, _ = listener.accept()
        except BlockingIOError:
            return attempts
        accepted.close()
        attempts += 1


def _timed(request: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


@contextmanager
def connected_with(setting: str) -> Iterator[None]:
    """This process's connection with ``-c <setting>`` (as the settings send
    ``DB_STATEMENT_TIMEOUT_MS``; tests/infra/test_settings.py checks that part)."""
    saved = connection.settings_dict["OPTIONS"]
    connection.close()
    options = dict(saved)
    options["options"] = f"{options.get('options', '')} -c {setting}"
    connection.settings_dict["OPTIONS"] = options
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["OPTIONS"] = saved


def statement_timeout(milliseconds: int) -> AbstractContextManager[None]:
    return connected_with(f"statement_timeout={milliseconds}")


@contextmanager
def another_session_holding(lock: str) -> Iterator[None]:
    """Another client of the same database holds ``lock`` in an open transaction (connected
    as Django connects, ``get_connection_params``)."""
    with psycopg.connect(**connection.get_connection_params()) as other:
        other.execute(lock)
        yield
        other.rollback()


def _unavailable(response: Any) -> dict[str, Any]:
    """The checks every 503 of the API passes; its body."""
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == str(database_errors.RETRY_AFTER_SECONDS)
    body = response.json()
    assert body == {
        "code": "database_unavailable",
        "message": database_errors.MESSAGE,
        "details": {
            "correlation_id": response["X-Request-ID"],
            "retry_after_seconds": database_errors.RETRY_AFTER_SECONDS,
        },
    }
    text = response.content.decode()
    for internal in ("OperationalError", "127.0.0.1", "port 1", "statement timeout", "booking_"):
        assert internal not in text
    return body


def test_an_api_request_while_the_database_is_down_is_503_in_the_error_shape(
    api: Callable[[User | None], APIClient], alice: User, alice_project: Project, caplog: Any
) -> None:
    client = api(alice)
    assert client.get("/api/v1/jobs/").status_code == 200

    with database_unreachable(), caplog.at_level(logging.ERROR, logger=API_LOGGER):
        response = client.get(f"/api/v1/jobs/?project={alice_project.pk}")

    _unavailable(response)
    (record,) = [r for r in caplog.records if r.name == API_LOGGER]
    assert record.levelno == logging.ERROR
    assert response["X-Request-ID"] in record.getMessage()
    assert record.exc_info is not None
    assert type(record.exc_info[1]).__name__ == "OperationalError"
    # The database back: the same client is served again.
    assert client.get(f"/api/v1/jobs/?project={alice_project.pk}").status_code == 200


def test_after_a_connection_attempt_waited_in_vain_the_next_requests_answer_503_at_once(
    api: Callable[[User | None], APIClient],
    alice: User,
    alice_project: Project,
    settings: Any,
    caplog: Any,
) -> None:
    """A host that drops packets costs a connection attempt its whole connect timeout. One
    request of the process pays it; for ``DB_OUTAGE_SECONDS`` the others answer their 503 at
    once instead of holding a worker each (a handful would hold them all)."""
    client = api(alice)
    url = f"/api/v1/jobs/?project={alice_project.pk}"
    settings.DB_OUTAGE_SECONDS = 30

    with database_silent() as listener, caplog.at_level(logging.ERROR, logger=API_LOGGER):
        waited, first = _timed(lambda: client.get(url))
        answered = [_timed(lambda: client.get(url)) for _ in range(3)]
        tried_meanwhile = _attempts(listener)
        settings.DB_OUTAGE_SECONDS = 0.2  # the window has passed: the next request tries
        time.sleep(0.3)
        again, second = _timed(lambda: client.get(url))
        tried_after = _attempts(listener)

    assert first >= 1.5
    _unavailable(waited)
    for response, seconds in answered:
        _unavailable(response)
        assert seconds < 0.5, seconds
    assert tried_meanwhile == 1  # the first request's attempt only
    skipped = [r for r in caplog.records if "not tried" in str(r.exc_info and r.exc_info[1])]
    assert len(skipped) == 3
    assert second >= 1.5
    _unavailable(again)
    assert tried_after == 1
    # The database back (and the window forgotten): served again.
    assert client.get(url).status_code == 200


def test_a_refused_connection_is_tried_again_by_the_next_request(
    api: Callable[[User | None], APIClient], alice: User, settings: Any
) -> None:
    """A server restarting refuses connections in milliseconds: no request is spared the
    attempt, so the first one after the restart is served."""
    client = api(alice)
    settings.DB_OUTAGE_SECONDS = 30

    with database_unreachable():
        refused = [client.get("/api/v1/jobs/") for _ in range(2)]
        resting = database_errors.DATABASE_OUTAGE.resting()

    for response in refused:
        _unavailable(response)
    assert not resting
    assert client.get("/api/v1/jobs/").status_code == 200


def test_the_start_commands_wait_for_the_database_tries_it_at_every_poll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``manage.py start`` waits for the database on purpose: the pause after a slow failure
    is for requests, and the error it gives up with is the server's, not "not tried"."""
    from django.core.management.base import CommandError

    from stargate_portal.management.commands import start

    monkeypatch.setattr(start, "POLL_SECONDS", 0.1)
    with database_silent() as listener:
        with pytest.raises(CommandError) as gave_up:
            start._database_wait(time.monotonic() + 3)
        attempts = _attempts(listener)

    assert attempts == 2  # 2 s each: the first, then one more before the deadline passed
    assert "connection timeout expired" in str(gave_up.value)
    assert "not tried" not in str(gave_up.value)


def test_a_signed_in_page_while_the_database_is_down_is_a_503_page(alice: User) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(alice)  # the session is stored while the database answers

    with database_unreachable():
        response = client.get("/projects/")

    assert response.status_code == 503
    assert response["Retry-After"] == str(database_errors.RETRY_AFTER_SECONDS)
    page = response.content.decode()
    assert "Temporarily unavailable" in page
    assert f"<code>{response['X-Request-ID']}</code>" in page
    assert "Something went wrong" not in page  # not the page of a fault
    assert alice.email not in page  # nothing of the session or the user was read
    assert client.get("/projects/").status_code == 200


def test_a_job_detail_stuck_behind_a_lock_answers_503_at_the_statement_timeout(
    api: Callable[[User | None], APIClient],
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
) -> None:
    job = submit(alice, alice_project)
    client = api(alice)

    with (
        statement_timeout(TIMEOUT_MS),
        another_session_holding("LOCK TABLE booking_job IN ACCESS EXCLUSIVE MODE"),
    ):
        started = time.monotonic()
        response = client.get(f"/api/v1/jobs/{job.pk}/")
        waited = time.monotonic() - started

    _unavailable(response)
    assert waited >= TIMEOUT_MS / 1000  # it waited for the lock, then gave up
    assert client.get(f"/api/v1/jobs/{job.pk}/").json()["id"] == job.pk


def test_a_submit_stuck_behind_a_lock_saves_nothing_and_its_retry_queues_the_job_once(
    api: Callable[[User | None], APIClient], alice: User, alice_project: Project
) -> None:
    client = api(alice)
    body = job_body(alice_project)
    events = JobEvent.objects.count()

    with (
        statement_timeout(TIMEOUT_MS),
        # Reads go on; the job's insert waits for the other session and is stopped.
        another_session_holding("LOCK TABLE booking_job IN SHARE MODE"),
    ):
        response = client.post("/api/v1/jobs/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    _unavailable(response)
    assert not Job.objects.exists()
    assert JobEvent.objects.count() == events
    retried = client.post("/api/v1/jobs/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/v1/jobs/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert retried.status_code == again.status_code == 201, retried.json()
    assert "Idempotent-Replayed" not in retried
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == retried.json()["id"] == Job.objects.get().pk


def test_a_portal_submit_stuck_behind_a_lock_is_a_503_page_and_saves_nothing(
    alice: User, alice_project: Project
) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    data = form_data(alice_project, idempotency_key="portal-outage")

    with (
        statement_timeout(TIMEOUT_MS),
        another_session_holding("LOCK TABLE booking_job IN SHARE MODE"),
    ):
        response = client.post(SUBMIT_URL, data)

    assert response.status_code == 503
    assert "Temporarily unavailable" in response.content.decode()
    assert not Job.objects.exists()
    # Sent again (the browser's back and submit): queued once.
    assert client.post(SUBMIT_URL, data).status_code == 302
    assert client.post(SUBMIT_URL, data).status_code == 302
    assert Job.objects.get().idempotency_key == "portal-outage"


def test_a_write_to_a_read_only_server_is_503_and_its_retry_queues_the_job(
    api: Callable[[User | None], APIClient], alice: User, alice_project: Project
) -> None:
    """A primary demoted in a fail-over refuses writes until the connection moves: honest
    "try again", not an unexpected error. Reads are served."""
    client = api(alice)
    body = job_body(alice_project)

    with connected_with("default_transaction_read_only=on"):
        listed = client.get(f"/api/v1/jobs/?project={alice_project.pk}")
        refused = client.post("/api/v1/jobs/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    assert listed.status_code == 200
    _unavailable(refused)
    assert not Job.objects.exists()
    retried = client.post("/api/v1/jobs/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert retried.status_code == 201
    assert Job.objects.get().pk == retried.json()["id"]


def test_a_connection_whose_server_stops_answering_is_given_up_by_the_kernel() -> None:
    """A network partition mid-request: the connection's socket carries keepalive probes and
    a user timeout (``DB_TCP_TIMEOUT_SECONDS``, 10 by default), so a wait on a server that no
    longer answers ends in an error, a 503, after about 10 s instead of the system's TCP
    timeout. This container has no packet filter to cut the network with, so what is checked
    is what the kernel was told for Django's own connection."""
    connection.ensure_connection()
    descriptor = connection.connection.pgconn.socket
    with socket.fromfd(descriptor, socket.AF_INET, socket.SOCK_STREAM) as sock:
        told = {
            "keepalive": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            "idle": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            "interval": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            "probes": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
            "unacknowledged_ms": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
        }

    assert told == {
        "keepalive": 1,
        "idle": 5,
        "interval": 2,
        "probes": 3,
        "unacknowledged_ms": 10_000,
    }


def test_only_outages_count_as_the_database_not_answering() -> None:
    """An integrity or programming error is a fault (500), not a reason to retry."""
    from django.db import IntegrityError, InternalError, ProgrammingError

    class Cause(Exception):
        sqlstate = "XX000"

    other_internal = InternalError("internal")
    other_internal.__cause__ = Cause()

    assert not database_errors.database_failure(IntegrityError("duplicate key"))
    assert not database_errors.database_failure(ProgrammingError("syntax"))
    assert not database_errors.database_failure(other_internal)
    assert not database_errors.database_failure(None)
