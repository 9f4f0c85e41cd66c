"""Reconcile asks the cluster for what changed, settles finished jobs in batches with the
per-job amounts, and falls back on a full answer as its safety net."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from booking.admission.dispatch import jobs_dispatch
from booking.cluster.base import ClusterBackend
from booking.cluster.simulator.backend import SimulatorBackend
from booking.jobs.services import job_cancel
from booking.jobs.settlement import settle_amounts
from booking.ledger.services import Settled, SettleRequest, ledger_settle_many
from booking.models import (
    ClusterCancel,
    Job,
    LedgerEntry,
    Project,
    ProjectState,
    ReconcileCursor,
    SimulatedJob,
)
from tests.fixtures.jobs import cycle, reconcile

pytestmark = pytest.mark.django_db


def _never() -> list[str]:
    raise AssertionError("asking for changes must not list every active job")


def test_the_simulator_answers_only_the_jobs_changed_since_the_cursor(
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    short = submit(alice, alice_project, gpus=1, script="#!/bin/sh\n# sim: runtime=10m\n")
    submit(alice, alice_project, gpus=1, script="#!/bin/sh\n# sim: runtime=50m\n")
    cycle()
    jobs_dispatch(backend=sim)  # what the cycle does after its commit
    full = sim.changes_all(lambda: [job.submission_key for job in Job.objects.all()])
    assert full.complete
    assert len(full.jobs) == 2

    assert sim.changes_since(full.cursor, _never).jobs == {}
    sim.advance(timedelta(minutes=11))
    changes = sim.changes_since(full.cursor, _never)

    assert not changes.complete
    assert list(changes.jobs) == [short.submission_key]
    assert changes.jobs[short.submission_key].state == "completed"
    assert int(changes.cursor) > int(full.cursor)
    assert sim.changes_since(changes.cursor, _never).jobs == {}


def test_a_backend_that_cannot_tell_what_changed_answers_in_full(
    alice: User, alice_project: Project, submit: Callable[..., Job], sim: SimulatorBackend
) -> None:
    job = submit(alice, alice_project, gpus=1)
    cycle()
    jobs_dispatch(backend=sim)

    changes = ClusterBackend.changes_since(sim, "42", lambda: [job.submission_key, "unknown"])

    assert changes.complete
    assert list(changes.jobs) == [job.submission_key]


def test_reconcile_follows_changes_after_a_first_full_answer(
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    job = submit(alice, alice_project, gpus=2, script="#!/bin/sh\n# sim: runtime=10m\n")
    cycle()

    first = reconcile()
    sim.advance(timedelta(minutes=11))
    second = reconcile()

    assert (first.full, first.started) == (True, 1)
    assert (second.full, second.changed, second.finished) == (False, 1, 1)
    job.refresh_from_db()
    assert job.state == "completed"
    mark = ReconcileCursor.objects.get(backend="simulator")
    assert int(mark.cursor) > 0


def test_jobs_that_end_together_are_settled_in_one_batch_with_the_per_job_amounts(
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    def run_batch(count: int) -> tuple[list[Job], int]:
        jobs = [
            submit(alice, alice_project, gpus=1, script=f"#!/bin/sh\n# sim: runtime={n + 5}m\n")
            for n in range(count)
        ]
        cycle()
        reconcile()
        sim.advance(timedelta(minutes=count + 6))
        with CaptureQueriesContext(connection) as queries:
            assert reconcile().finished == count
        return jobs, len(queries)

    few, few_queries = run_batch(2)
    many, many_queries = run_batch(6)

    assert many_queries == few_queries  # one batch: the cost does not grow per job
    for job in [*few, *many]:
        job.refresh_from_db()
        released, charged = settle_amounts(job, job.runtime_seconds)
        entries = dict(
            LedgerEntry.objects.filter(idempotency_key__startswith=f"job-{job.uuid}-")
            .exclude(kind="hold")
            .values_list("kind", "gpu_hours")
        )
        assert entries == {"release": -released, "charge": charged}
        assert job.state == "completed"
        assert "released" in job.events.last().message


def test_a_batch_settlement_replays_nothing_and_reports_a_refused_charge(
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    job = submit(alice, alice_project, gpus=2, walltime_minutes=60)
    cycle()
    request = SettleRequest(
        ref=job.pk,
        project_id=alice_project.pk,
        gpu_type_id=job.gpu_type_id,
        hold_key=job.ledger_key("hold"),
        release_gpu_hours=Decimal(2),
        release_key=job.ledger_key("release"),
        charge_gpu_hours=Decimal(1),
        charge_key=job.ledger_key("charge"),
    )
    Project.objects.filter(pk=alice_project.pk).update(state=ProjectState.SUSPENDED)

    first = ledger_settle_many([request])
    again = ledger_settle_many([request])
    unheld = ledger_settle_many([request.__class__(**{**_fields(request), "hold_key": "none"})])

    assert first[job.pk] == again[job.pk] == Settled(held=True, charge_refused="project_suspended")
    assert not unheld[job.pk].held
    kinds = list(
        LedgerEntry.objects.filter(project=alice_project)
        .order_by("pk")
        .values_list("kind", flat=True)
    )
    assert kinds == ["grant", "hold", "release"]


def test_a_job_of_a_project_suspended_while_it_ran_is_released_not_charged_one_by_one_or_in_a_batch(
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    """The same settlement and history note whether the owner cancels the job (one job) or
    the cluster reports its end (reconcile's batch)."""
    cancelled = submit(alice, alice_project, gpus=2, walltime_minutes=60)
    finished = submit(alice, alice_project, gpus=2, script="#!/bin/sh\n# sim: runtime=30m\n")
    cycle()
    reconcile()
    sim.advance(timedelta(minutes=45))
    Project.objects.filter(pk=alice_project.pk).update(state=ProjectState.SUSPENDED)
    cancelled.refresh_from_db()

    job_cancel(job=cancelled, user=alice)
    assert reconcile().finished == 1

    for job in (cancelled, finished):
        job.refresh_from_db()
        hold = job.hold_gpu_hours
        kinds = list(
            LedgerEntry.objects.filter(idempotency_key__startswith=f"job-{job.uuid}-")
            .order_by("pk")
            .values_list("kind", "gpu_hours")
        )
        assert kinds == [("hold", hold), ("release", -hold)]
        message = job.events.order_by("at", "pk").last().message
        assert message.endswith(f"{hold} GPU-hours released, not charged (project_suspended).")
    assert (cancelled.state, finished.state) == ("cancelled", "completed")


def test_a_cancel_cut_off_between_the_commit_and_the_cluster_is_sent_by_the_next_reconcile(
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    """The intent commits with the cancellation: here the after-commit call never runs (as
    when the worker is killed right after the commit), and the job would run on the cluster,
    unbilled, until its walltime; the reconcile sends it, once."""
    job = submit(alice, alice_project, gpus=2, walltime_minutes=60)
    cycle()
    reconcile()
    job.refresh_from_db()
    key = job.submission_key
    assert sim.find([key])[key].state.value == "running"

    job_cancel(job=job, user=alice)  # its after-commit callback is dropped with the test's

    assert list(ClusterCancel.objects.values_list("key", flat=True)) == [key]
    assert sim.find([key])[key].state.value == "running"
    reconcile()
    assert sim.find([key])[key].state.value == "cancelled"
    assert not ClusterCancel.objects.exists()
    job.refresh_from_db()
    assert job.state == "cancelled"


def _fields(request: Any) -> dict[str, Any]:
    return {name: getattr(request, name) for name in request.__slots__}


def test_the_safety_net_checks_every_active_job_in_slices_within_its_period(
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from booking.admission import reconcile as reconcile_module

    monkeypatch.setattr(reconcile_module, "SLICE_MIN", 1)
    settings.JOBS_RECONCILE_SECONDS, settings.JOBS_RECONCILE_FULL_SECONDS = 5, 10
    jobs = [submit(alice, alice_project, gpus=1) for _ in range(3)]
    cycle()
    reconcile()  # the first run answers in full
    SimulatedJob.objects.all().delete()  # the cluster loses them all, and says nothing

    reconcile()  # two runs per period: a slice of 2 of the 3 jobs
    assert sorted(Job.objects.values_list("state", flat=True)) == ["failed", "failed", "running"]
    assert ReconcileCursor.objects.get().checked_up_to == jobs[1].pk
    reconcile()

    assert set(Job.objects.values_list("state", flat=True)) == {"failed"}
    reconcile()  # nothing left after the last job checked: the next pass starts over
    assert ReconcileCursor.objects.get().checked_up_to == 0
