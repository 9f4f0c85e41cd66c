"""Every task a write queues goes through ``task_enqueue``: a broker failure is logged, counted
and swallowed, and the work is found again by a periodic task (the e-mail outbox, the
low-balance sweep, the admission cycle on beat). The real outage is in test_broker_outage.py.
"""

import ast
import logging
from pathlib import Path
from smtplib import SMTPServerDisconnected
from typing import Any

import pytest
from django.core import mail
from kombu.exceptions import OperationalError
from prometheus_client import REGISTRY
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from accounts.models import OutboxEmail, User
from accounts.outbox import OUTBOX_MAX_ATTEMPTS, outbox_due_ids
from accounts.services.outbox import email_queue
from accounts.tasks import outbox_send_due
from stargate_portal.task_enqueue import enqueue_failures, task_enqueue

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("accounts", "booking", "stargate_portal")


class BrokerDown:
    """A task whose broker refuses every message, as kombu reports it."""

    name = "tests.broker_down"

    def apply_async(self, **options: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_a_broker_failure_is_logged_counted_and_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="stargate_portal.task_enqueue"):
        queued = task_enqueue(BrokerDown(), 7, countdown=1)  # type: ignore[arg-type]
        task_enqueue(BrokerDown())  # type: ignore[arg-type]

    assert queued is False
    assert enqueue_failures() == {"tests.broker_down": 2}
    assert "tests.broker_down" in caplog.records[0].getMessage()
    assert caplog.records[0].exc_info is not None


def test_tasks_that_could_not_be_queued_are_counted_in_the_metrics() -> None:
    name = "stargate_celery_task_enqueue_failures_total"
    before = REGISTRY.get_sample_value(name, {"task": "tests.broker_down"}) or 0.0

    task_enqueue(BrokerDown())  # type: ignore[arg-type]

    assert REGISTRY.get_sample_value(name, {"task": "tests.broker_down"}) == before + 1


def test_a_programming_error_in_a_task_call_is_not_mistaken_for_an_outage() -> None:
    class Broken:
        name = "tests.broken"

        def apply_async(self, **options: Any) -> None:
            raise TypeError("unexpected keyword")

    with pytest.raises(TypeError):
        task_enqueue(Broken())  # type: ignore[arg-type]
    assert enqueue_failures() == {}


def direct_enqueues() -> list[str]:
    """``.delay(`` and ``.apply_async(`` calls in the project outside ``task_enqueue``."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "task_enqueue.py" or "migrations" in path.parts:
                continue
            found.extend(
                f"{path.relative_to(ROOT)}:{node.lineno}"
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("delay", "apply_async")
            )
    return found


def test_no_code_queues_a_task_except_through_task_enqueue() -> None:
    assert direct_enqueues() == []


# -- the e-mail outbox -----------------------------------------------------------------------


@pytest.mark.django_db
def test_an_e_mail_is_stored_with_the_write_and_sent_after_the_commit(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        email = email_queue(subject="Hello", body="Text", to=["erin@uib.no"], html="<p>Text</p>")
        assert mail.outbox == []

    (sent,) = mail.outbox
    assert (sent.subject, sent.to) == ("Hello", ["erin@uib.no"])
    email.refresh_from_db()
    assert email.sent_at is not None
    assert email.attempts == 1


@pytest.mark.django_db
def test_an_e_mail_whose_task_was_never_queued_is_sent_by_the_sweep(
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    from accounts import tasks

    monkeypatch.setattr(tasks.outbox_email_send, "apply_async", BrokerDown().apply_async)
    with django_capture_on_commit_callbacks(execute=True):
        email = email_queue(subject="Reset", body="Link", to=["erin@uib.no"])
    assert mail.outbox == []
    assert enqueue_failures() == {"accounts.tasks.outbox_email_send": 1}

    OutboxEmail.objects.update(next_attempt_at=email.created_at)  # a minute later
    assert outbox_send_due() == 1
    assert outbox_send_due() == 0  # sent once

    assert [m.subject for m in mail.outbox] == ["Reset"]


@pytest.mark.django_db
def test_a_mail_server_failure_is_retried_later_with_a_growing_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> int:
        raise SMTPServerDisconnected("gone")

    email = OutboxEmail.objects.create(to=["erin@uib.no"], subject="S", body="B")
    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)

    assert outbox_send_due() == 0
    email.refresh_from_db()
    assert email.sent_at is None
    assert email.attempts == 1
    assert "gone" in email.last_error
    assert email.next_attempt_at > email.created_at
    assert outbox_due_ids(now=email.created_at) == []

    monkeypatch.undo()
    assert outbox_send_due() == 0  # not due yet
    assert outbox_due_ids(now=email.next_attempt_at) == [email.pk]


@pytest.mark.django_db
def test_an_e_mail_that_failed_too_often_is_no_longer_retried() -> None:
    OutboxEmail.objects.create(
        to=["erin@uib.no"], subject="S", body="B", attempts=OUTBOX_MAX_ATTEMPTS
    )

    assert outbox_send_due() == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_password_reset_e_mail_goes_through_the_outbox(
    alice: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    from django.test import Client

    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/accounts/password/reset/", {"email": alice.email})

    assert response.status_code == 302
    (email,) = OutboxEmail.objects.all()
    assert email.to == [alice.email]
    assert email.sent_at is not None
    assert mail.outbox[0].to == [alice.email]
