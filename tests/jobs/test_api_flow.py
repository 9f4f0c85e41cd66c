"""A job's whole life through the API on the simulated cluster, with its exact ledger entries."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from booking.cluster.simulator.backend import SimulatorBackend
from booking.ledger.selectors import balance_of
from booking.models import ClusterCancel, Job, LedgerEntry, Project
from tests.fixtures.jobs import cycle, job_body, later, reconcile
from tests.pages import page_text

pytestmark = pytest.mark.django_db
Api = Callable[[User | None], APIClient]


def ledger_of(job: Job) -> list[tuple[str, Decimal, str]]:
    entries = LedgerEntry.objects.filter(idempotency_key__startswith=f"job-{job.uuid}")
    return [(e.kind, e.gpu_hours, e.idempotency_key) for e in entries.order_by("pk")]


def test_job_goes_pending_admitted_running_completed_with_hold_then_release_and_charge(
    api: Api,
    alice: User,
    alice_project: Project,
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    submitted = api(alice).post("/api/v1/jobs/", job_body(alice_project), format="json")
    assert submitted.status_code == 201, submitted.json()
    body = submitted.json()
    job = Job.objects.get(pk=body["id"])
    assert (body["state"], body["reason"], body["queue_position"]) == ("pending", "priority", None)
    # No cycle has placed it yet: the response says when its position will be known.
    assert (body["queue_known_within_seconds"], body["queue_as_of"]) == (5.0, None)
    assert ledger_of(job) == []

    cycle()
    job.refresh_from_db()
    assert job.state == "admitted"
    assert ledger_of(job) == [("hold", Decimal("8.0000"), f"job-{job.uuid}-hold")]

    reconcile()
    job.refresh_from_db()
    assert job.state == "running"
    assert job.backend_job_id

    later(sim, minutes=31)
    reconcile()
    job.refresh_from_db()
    assert (job.state, job.runtime_seconds, job.exit_code) == ("completed", 1800, 0)
    assert ledger_of(job) == [
        ("hold", Decimal("8.0000"), f"job-{job.uuid}-hold"),
        ("release", Decimal("-8.0000"), f"job-{job.uuid}-release"),
        ("charge", Decimal("2.0000"), f"job-{job.uuid}-charge"),
    ]
    balance = balance_of(project=alice_project, gpu_type=job.gpu_type)
    assert (balance.held, balance.charged, balance.available) == (0, 2, 998)

    shown = api(alice).get(f"/api/v1/jobs/{job.pk}/").json()
    assert [(e["from_state"], e["to_state"]) for e in shown["history"]] == [
        ("", "pending"),
        ("pending", "admitted"),
        ("admitted", "running"),
        ("running", "completed"),
    ]
    assert shown["runtime_seconds"] == 1800
    assert shown["queue_position"] is None


def test_cancelling_a_pending_job_holds_and_releases_nothing(
    api: Api, alice: User, alice_project: Project, submit: Callable[..., Job]
) -> None:
    job = submit(alice, alice_project)

    response = api(alice).post(f"/api/v1/jobs/{job.pk}/cancel/")

    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "cancelled"
    assert ledger_of(job) == []
    assert cycle().admitted == []


def test_cancelling_an_admitted_job_releases_its_whole_hold_and_never_sends_it(
    api: Api,
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
) -> None:
    job = submit(alice, alice_project)
    cycle()

    assert api(alice).post(f"/api/v1/jobs/{job.pk}/cancel/").json()["state"] == "cancelled"
    reconcile()

    assert ledger_of(job) == [
        ("hold", Decimal("8.0000"), f"job-{job.uuid}-hold"),
        ("release", Decimal("-8.0000"), f"job-{job.uuid}-release"),
    ]
    assert sim.find([str(job.uuid)]) == {}
    assert balance_of(project=alice_project, gpu_type=job.gpu_type).available == 1000


def test_cancelling_a_running_job_charges_what_ran_and_stops_it_on_the_cluster(
    api: Api,
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    job = submit(alice, alice_project)
    cycle()
    reconcile()
    later(sim, minutes=15)

    with django_capture_on_commit_callbacks(execute=True):
        response = api(alice).post(f"/api/v1/jobs/{job.pk}/cancel/")

    assert response.json()["state"] == "cancelled"
    assert response.json()["runtime_seconds"] == 900
    assert ledger_of(job) == [
        ("hold", Decimal("8.0000"), f"job-{job.uuid}-hold"),
        ("release", Decimal("-8.0000"), f"job-{job.uuid}-release"),
        ("charge", Decimal("1.0000"), f"job-{job.uuid}-charge"),
    ]
    assert sim.find([str(job.uuid)])[str(job.uuid)].state == "cancelled"
    reconcile()  # the cluster's own report of the cancellation changes nothing
    assert len(ledger_of(job)) == 3


def test_a_cancel_the_cluster_does_not_answer_succeeds_and_the_next_reconcile_sends_it(
    api: Api,
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
    login: Callable[[User], Client],
) -> None:
    job = submit(alice, alice_project)
    cycle()
    reconcile()
    calls: list[list[str]] = []
    real_cancel = SimulatorBackend.cancel

    def flaky_cancel(self: SimulatorBackend, keys: list[str]) -> None:
        calls.append(list(keys))
        if len(calls) == 1:
            raise TimeoutError("the cluster did not answer")
        real_cancel(self, keys)

    monkeypatch.setattr(SimulatorBackend, "cancel", flaky_cancel)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(alice).post(f"/api/v1/jobs/{job.pk}/cancel/")

    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    assert response.json()["cluster_cancel_pending"] is True
    key = str(job.uuid)
    assert calls == [[key]]
    assert sim.find([key])[key].state == "running"  # the cluster has not heard yet
    assert list(ClusterCancel.objects.values_list("key", flat=True)) == [key]
    page = login(alice).get(reverse("jobs:job_detail", args=[job.pk]))
    body = page.content.decode()
    assert "The cluster has not taken the cancel yet" in page_text(page)
    assert f'hx-get="{reverse("jobs:job_live", args=[job.pk])}"' in body  # until it has

    reconcile()

    assert calls == [[key], [key]]  # the second by the reconcile
    assert sim.find([key])[key].state == "cancelled"
    assert not ClusterCancel.objects.exists()
    assert api(alice).get(f"/api/v1/jobs/{job.pk}/").json()["cluster_cancel_pending"] is False
    page = login(alice).get(reverse("jobs:job_detail", args=[job.pk]))
    body = page.content.decode()
    assert "The cluster has not taken the cancel yet" not in page_text(page)
    assert "hx-get" not in body.split('id="job-live"', 1)[1].split(">", 1)[0]
    reconcile()
    assert len(calls) == 2  # sent once


def test_a_finished_job_cannot_be_cancelled(
    api: Api, alice: User, alice_project: Project, submit: Callable[..., Job]
) -> None:
    job = submit(alice, alice_project)
    api(alice).post(f"/api/v1/jobs/{job.pk}/cancel/")

    again = api(alice).post(f"/api/v1/jobs/{job.pk}/cancel/")

    assert again.status_code == 409
    assert again.json()["code"] == "not_cancellable"


def test_a_retry_with_the_same_idempotency_key_returns_the_first_response_and_creates_nothing(
    api: Api, alice: User, alice_project: Project
) -> None:
    client = api(alice)
    first = client.post(
        "/api/v1/jobs/", job_body(alice_project), format="json", HTTP_IDEMPOTENCY_KEY="run-42"
    )
    cycle()  # the job moves on; the retry still gets the first answer

    retry = client.post(
        "/api/v1/jobs/", job_body(alice_project), format="json", HTTP_IDEMPOTENCY_KEY="run-42"
    )

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"environment": {"ZETA": "1", "A": "two", "MIDDLE_NAME": ""}, "name": "  padded  "},
        {"script": "", "container_image": " ghcr.io/acme/train:1 ", "command": "python x.py"},
    ],
)
def test_the_submit_response_is_the_detail_of_the_job_as_stored(
    api: Api, alice: User, alice_project: Project, overrides: dict[str, Any]
) -> None:
    """The response is built from the job just written, not read back: it must say what a
    read of the stored job says (cleaned name and image, environment, history, standing)."""
    client = api(alice)
    cycle()  # a record of the queue, so the new job has a standing to show
    submitted = client.post(
        "/api/v1/jobs/",
        job_body(alice_project, **overrides),
        format="json",
        HTTP_IDEMPOTENCY_KEY="as-stored",
    )
    assert submitted.status_code == 201, submitted.content

    shown = client.get(f"/api/v1/jobs/{submitted.json()['id']}/")

    assert submitted.json() == shown.json()
    assert [event["to_state"] for event in shown.json()["history"]] == ["pending"]


def test_the_same_idempotency_key_for_another_job_is_refused(
    api: Api, alice: User, alice_project: Project
) -> None:
    client = api(alice)
    client.post("/api/v1/jobs/", job_body(alice_project), format="json", HTTP_IDEMPOTENCY_KEY="k")

    other = client.post(
        "/api/v1/jobs/", job_body(alice_project, gpus=2), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert Job.objects.count() == 1


def test_idempotency_keys_belong_to_each_user(
    api: Api, alice: User, bob: User, alice_project: Project
) -> None:
    from booking.models import ProjectMember, ProjectRole

    ProjectMember.objects.create(project=alice_project, user=bob, role=ProjectRole.MEMBER)
    for user in (alice, bob):
        response = api(user).post(
            "/api/v1/jobs/", job_body(alice_project), format="json", HTTP_IDEMPOTENCY_KEY="same"
        )
        assert response.status_code == 201

    assert Job.objects.count() == 2


@pytest.mark.parametrize(
    ("script", "state", "runtime", "exit_code", "charged"),
    [
        ("#!/bin/sh\n# sim: runtime=45m exit=3\n", "failed", 2700, 3, Decimal("3.0000")),
        ("#!/bin/sh\n# sim: runtime=5h\n", "timeout", 7200, None, Decimal("8.0000")),
        ("#!/bin/sh\nsleep infinity\n", "completed", 7200, 0, Decimal("8.0000")),
    ],
)
def test_outcomes_are_charged_for_the_runtime_up_to_the_walltime(
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
    script: str,
    state: str,
    runtime: int,
    exit_code: int | None,
    charged: Decimal,
) -> None:
    job = submit(alice, alice_project, script=script)
    cycle()
    reconcile()
    later(sim, hours=3)
    reconcile()

    job.refresh_from_db()
    assert (job.state, job.runtime_seconds, job.exit_code) == (state, runtime, exit_code)
    assert ledger_of(job)[-1] == ("charge", charged, f"job-{job.uuid}-charge")
    assert balance_of(project=alice_project, gpu_type=job.gpu_type).held == 0


def test_a_node_failure_fails_the_job_and_charges_until_the_failure(
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    job = submit(alice, alice_project)
    cycle()
    reconcile()
    later(sim, minutes=6)
    job.refresh_from_db()

    sim.fail_node("H100", job.placement_tuple()[0][0])
    reconcile()

    job.refresh_from_db()
    assert (job.state, job.runtime_seconds) == ("failed", 360)
    assert "node failed" in job.events.last().message  # type: ignore[union-attr]
    assert ledger_of(job)[-1] == ("charge", Decimal("0.4000"), f"job-{job.uuid}-charge")


def test_a_container_job_runs_its_command(
    api: Api,
    alice: User,
    alice_project: Project,
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    body = job_body(
        alice_project,
        script="",
        container_image="nvcr.io/nvidia/pytorch:24.05-py3",
        command="torchrun train.py",
        walltime_minutes=60,
    )
    created = api(alice).post("/api/v1/jobs/", body, format="json")
    assert created.status_code == 201, created.json()
    cycle()
    reconcile()
    later(sim, hours=2)
    reconcile()

    job = Job.objects.get(pk=created.json()["id"])
    assert (job.state, job.runtime_seconds) == ("completed", 3600)
