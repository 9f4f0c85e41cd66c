"""The simulated cluster, and sending jobs to a cluster exactly once."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from accounts.models import User
from booking.admission.dispatch import job_spec, jobs_dispatch
from booking.cluster.base import JobSpec
from booking.cluster.registry import cluster_backend
from booking.cluster.simulator.backend import SimulatorBackend, scripted_outcome
from booking.models import Job, LedgerEntry, Project, SimulatedJob
from tests.fixtures.jobs import cycle, reconcile

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("#!/bin/sh\n# sim: runtime=30m exit=0\n", (1800, "completed", 0)),
        ("#!/bin/sh\n# sim: runtime=1h30m\n", (5400, "completed", 0)),
        ("#!/bin/sh\n#sim: exit=2 runtime=45s\n", (45, "failed", 2)),
        ("#!/bin/sh\n# sim: runtime=3h\n", (7200, "timeout", None)),
        ("#!/bin/sh\n# sim: runtime=soon\n", (7200, "completed", 0)),
        ("#!/bin/sh\npython train.py\n", (7200, "completed", 0)),
    ],
)
def test_a_scripted_outcome_is_read_from_the_sim_line(
    script: str, expected: tuple[int, str, int | None]
) -> None:
    assert scripted_outcome(script, 7200) == expected


def test_the_simulator_is_the_default_backend() -> None:
    assert isinstance(cluster_backend(), SimulatorBackend)


def test_the_clock_moves_only_when_advanced(
    sim: SimulatorBackend, clock: time_machine.Traveller
) -> None:
    start = sim.now()

    assert sim.now() == start
    assert sim.advance(timedelta(hours=2)) == start + timedelta(hours=2)


def spec(key: str = "k-1", *, placement: tuple[tuple[int, int], ...] = ((0, 4),)) -> JobSpec:
    return JobSpec(
        key=key,
        name="train",
        account="1",
        gpu_type="H100",
        gpus=4,
        walltime_minutes=60,
        placement=placement,
        script="#!/bin/sh\n# sim: runtime=10m\n",
    )


def test_submitting_the_same_key_twice_starts_one_job(sim: SimulatorBackend, h100: object) -> None:
    first = sim.submit([spec()])
    again = sim.submit([spec()])

    assert first.accepted == again.accepted
    assert SimulatedJob.objects.count() == 1


def test_jobs_end_after_their_runtime_and_a_failed_node_ends_its_jobs(
    sim: SimulatorBackend, h100: object, clock: time_machine.Traveller
) -> None:
    sim.submit([spec("a", placement=((0, 4),)), spec("b", placement=((1, 4),))])
    sim.fail_node("H100", 1)
    sim.advance(timedelta(minutes=11))

    states = {key: job.state for key, job in sim.poll(["a", "b"]).items()}

    assert states == {"a": "completed", "b": "node_fail"}
    assert sim.capacity()["H100"].unavailable == {1}
    sim.restore_node("H100", 1)
    assert sim.capacity()["H100"].unavailable == frozenset()


def test_a_job_placed_on_a_failed_node_fails_at_once(sim: SimulatorBackend, h100: object) -> None:
    sim.fail_node("H100", 2)
    sim.submit([spec(placement=((2, 4),))])

    assert sim.find(["k-1"])["k-1"].state == "node_fail"


def test_reservations_take_whole_free_nodes(sim: SimulatorBackend, h100: object) -> None:
    now = sim.now()
    first = sim.create_reservation(
        name="r1",
        account="1",
        gpu_type="H100",
        nodes=2,
        starts_at=now,
        ends_at=now + timedelta(hours=4),
    )
    second = sim.create_reservation(
        name="r2",
        account="2",
        gpu_type="H100",
        nodes=2,
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=2),
    )

    assert len(set(first) | set(second)) == 4
    with pytest.raises(ValueError, match="only 0 nodes"):
        sim.create_reservation(
            name="r3",
            account="3",
            gpu_type="H100",
            nodes=1,
            starts_at=now,
            ends_at=now + timedelta(minutes=90),
        )
    assert (
        sim.create_reservation(
            name="r4",
            account="3",
            gpu_type="H100",
            nodes=2,
            starts_at=now,
            ends_at=now + timedelta(hours=1),  # ends when r2 starts: r2's nodes are free
        )
        == second
    )
    sim.delete_reservation("r1")
    sim.delete_reservation("unknown")


def test_a_job_sent_before_a_crash_is_recorded_not_sent_again(
    alice: User, alice_project: Project, submit: Callable[..., Job], sim: SimulatorBackend
) -> None:
    job = submit(alice, alice_project)
    cycle()
    job.refresh_from_db()
    sent = sim.submit([job_spec(job)])  # the worker died before it could record the cluster's id

    jobs_dispatch()

    job.refresh_from_db()
    assert job.backend_job_id == sent.accepted[job.submission_key]
    assert SimulatedJob.objects.count() == 1


def test_a_job_the_cluster_refuses_is_rejected_and_its_hold_released(
    alice: User, alice_project: Project, submit: Callable[..., Job], sim: SimulatorBackend
) -> None:
    job = submit(alice, alice_project)
    cycle()
    Job.objects.filter(pk=job.pk).update(placement=[[99, 4]])  # a node the cluster does not have

    jobs_dispatch()

    job.refresh_from_db()
    assert (job.state, job.reason) == ("rejected", "")
    assert "Rejected by the cluster" in job.events.last().message  # type: ignore[union-attr]
    released = LedgerEntry.objects.get(idempotency_key=f"job-{job.uuid}-release")
    assert released.gpu_hours == Decimal("-8.0000")


def test_a_job_the_cluster_lost_fails_at_the_safety_net_check_and_is_not_run_again(
    alice: User, alice_project: Project, submit: Callable[..., Job], sim: SimulatorBackend
) -> None:
    job = submit(alice, alice_project)
    cycle()
    reconcile()
    SimulatedJob.objects.all().delete()

    report = reconcile()  # a lost job is no change: the safety net's slice finds it

    assert report.full is False
    job.refresh_from_db()
    assert job.state == "failed"
    assert job.events.last().reason == "lost"
    assert SimulatedJob.objects.count() == 0


def test_reconciling_twice_settles_a_job_once(
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    job = submit(alice, alice_project)
    cycle()
    reconcile()
    sim.advance(timedelta(hours=1))

    first, second = reconcile(), reconcile()

    assert (first.finished, second.finished) == (1, 0)
    assert LedgerEntry.objects.filter(idempotency_key__startswith=f"job-{job.uuid}").count() == 3
