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
from tests.fixtures.capacity import at
from tests.fixtures.jobs import job_body

CLIENTS = 8

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(send: Callable[[int], Any]) -> list[Any]:
    """``send(n)`` in one thread per client, released together; the responses in order."""
    barrier = threading.Barrier(CLIENTS)
    responses: dict[int, Any] = {}

    def run(n: int) -> None:
        try:
            barrier.wait()
            responses[n] = send(n)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [responses.get(n) for n in range(CLIENTS)]


def _client(user: User) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    return client


def test_the_same_submit_sent_at_once_under_one_key_makes_one_job(
    alice: User, alice_project: Project
) -> None:
    body = job_body(alice_project)

    responses = race(
        lambda _n: _client(alice).post(
            "/api/v1/jobs/", body, format="json", HTTP_IDEMPOTENCY_KEY="nightly-17"
        )
    )

    assert [r.status_code for r in responses] == [201] * CLIENTS, [r.content for r in responses]
    job = Job.objects.get()
    assert {r.json()["id"] for r in responses} == {job.pk}
    assert JobEvent.objects.filter(job=job, from_state="").count() == 1  # submitted once
    assert job.idempotency_key == "nightly-17"


def test_different_submits_sent_at_once_under_one_key_make_one_job_and_are_refused(
    alice: User, alice_project: Project
) -> None:
    responses = race(
        lambda n: _client(alice).post(
            "/api/v1/jobs/",
            job_body(alice_project, gpus=n + 1),
            format="json",
            HTTP_IDEMPOTENCY_KEY="nightly-18",
        )
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
    body = {
        "project": norllm.pk,
        "gpu_type": "H100",
        "node_count": 2,
        "starts_at": at(48).isoformat(),
        "ends_at": at(72).isoformat(),
        "name": "NorLLM pre-training",
    }

    responses = race(
        lambda _n: _client(alice).post(
            "/api/v1/bookings/", body, format="json", HTTP_IDEMPOTENCY_KEY="plan-7"
        )
    )

    assert [r.status_code for r in responses] == [201] * CLIENTS, [r.content for r in responses]
    booking = CapacityBooking.objects.get()
    assert {r.json()["id"] for r in responses} == {booking.pk}
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == CLIENTS - 1
