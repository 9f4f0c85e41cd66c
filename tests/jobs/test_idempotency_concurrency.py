"""Retries that race: a pipeline whose first submit timed out sends it again while the first is
still being written, or several of its workers send the same Idempotency-Key at once. On
PostgreSQL, through the API, every such request is answered with the one job (or the one
booking) they made together; a different submission under the same key is refused."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import User
from booking.models import CapacityBooking, Job, JobEvent, Project
from tests.fixtures.capacity import booking_body
from tests.fixtures.jobs import job_body

CLIENTS = 8

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(user: User, path: str, body_of: Callable[[int], dict[str, Any]], key: str) -> list[Any]:
    """``CLIENTS`` clients of ``user`` post ``body_of(n)`` to ``path`` under the Idempotency-Key
    ``key``, each in a thread, released together; the responses in order."""
    barrier = threading.Barrier(CLIENTS)
    responses: dict[int, Any] = {}

    def run(n: int) -> None:
        client = APIClient(raise_request_exception=False)
        client.force_authenticate(user)
        try:
            barrier.wait()
            responses[n] = client.post(path, body_of(n), format="json", HTTP_IDEMPOTENCY_KEY=key)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [responses.get(n) for n in range(CLIENTS)]


def the_one_made(responses: list[Any], model: type[Job] | type[CapacityBooking]) -> Any:
    """The one row the clients made together, after checking each was answered with it."""
    assert [r.status_code for r in responses] == [201] * CLIENTS, [r.content for r in responses]
    made = model.objects.get()
    assert {r.json()["id"] for r in responses} == {made.pk}
    return made


def test_the_same_submit_sent_at_once_under_one_key_makes_one_job(
    alice: User, alice_project: Project
) -> None:
    responses = race(alice, "/api/v1/jobs/", lambda _n: job_body(alice_project), "nightly-17")

    job = the_one_made(responses, Job)
    assert JobEvent.objects.filter(job=job, from_state="").count() == 1  # submitted once
    assert job.idempotency_key == "nightly-17"


def test_different_submits_sent_at_once_under_one_key_make_one_job_and_are_refused(
    alice: User, alice_project: Project
) -> None:
    responses = race(
        alice, "/api/v1/jobs/", lambda n: job_body(alice_project, gpus=n + 1), "nightly-18"
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (CLIENTS - 1), [r.content for r in responses]
    job = Job.objects.get()
    created = next(r for r in responses if r.status_code == 201)
    assert created.json()["gpus"] == job.gpus
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["code"] == "idempotency_key_reused"
        assert refused.json()["details"] == {"job": job.pk}


@pytest.mark.usefixtures("clock")
def test_the_same_booking_sent_at_once_under_one_key_books_once(
    alice: User, norllm: Project
) -> None:
    responses = race(alice, "/api/v1/bookings/", lambda _n: booking_body(norllm), "plan-7")

    the_one_made(responses, CapacityBooking)
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == CLIENTS - 1
