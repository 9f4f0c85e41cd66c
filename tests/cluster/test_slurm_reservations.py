"""Reservations on the live Slurm cluster: a booking reserves whole nodes of its GPU type for
its project's account (Slurm 22.05 cannot reserve a GPU count) and its jobs wait for the
window; a reservation the platform did not make (maintenance) takes its nodes out of the
capacity the admission controller sees."""

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from accounts.models import Organisation, User
from booking.cluster.base import JobSpec
from booking.cluster.slurm.backend import SlurmBackend
from booking.models import GpuType, Project
from tests.fixtures.slurm import LocalSlurm, wait_until

pytestmark = pytest.mark.slurm


def test_a_booking_reserves_whole_nodes_and_its_jobs_wait_for_the_window(
    slurm: LocalSlurm,
    alice: User,
    alice_org: Organisation,
    h100_type: GpuType,
    a100_type: GpuType,
    provisioned: Callable[..., Project],
) -> None:
    project = provisioned(alice, alice_org, h100_type, a100_type)
    backend = SlurmBackend()
    name, key = f"booking-{uuid.uuid4().hex[:8]}", f"booked-{uuid.uuid4()}"
    starts = backend.now() + timedelta(minutes=30)

    nodes = backend.create_reservation(
        name=name,
        account=str(project.pk),
        gpu_type="A100",
        nodes=1,
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
    )
    try:
        assert nodes == (0,)
        shown = slurm.run("scontrol", "show", "reservation", f"spt-{name}", "-o")
        assert "Nodes=gpu3" in shown
        assert f"Accounts={slurm.account_prefix}{project.pk}" in shown
        assert f"StartTime={int(starts.timestamp())}" in shown
        job = JobSpec(
            key=key,
            name="booked",
            account=str(project.pk),
            gpu_type="A100",
            gpus=4,
            walltime_minutes=10,
            placement=((0, 4),),
            script="#!/bin/bash\ntrue\n",
            reservation=name,
        )
        assert backend.submit([job]).accepted
        waiting = wait_until(lambda: backend.poll([key])[key].backend_reason == "Reservation")
        assert waiting
        assert backend.poll([key])[key].reason == "booking_not_started"
        assert backend.capacity()["A100"].unavailable == frozenset()  # the platform's own
    finally:
        backend.cancel([key])
        backend.delete_reservation(name)
    assert "not found" in slurm.run("scontrol", "show", "reservation", f"spt-{name}", check=False)
    backend.delete_reservation(name)  # an unknown name is ignored


def test_a_maintenance_reservation_takes_its_nodes_out_of_capacity(
    slurm: LocalSlurm, a100_type: GpuType
) -> None:
    name = f"maint-{uuid.uuid4().hex[:8]}"
    window = ["StartTime=now", "Duration=10", "Users=root", "Nodes=gpu3", "Flags=MAINT,IGNORE_JOBS"]
    slurm.run("scontrol", "create", "reservation", f"ReservationName={name}", *window)
    try:
        assert SlurmBackend().capacity()["A100"].unavailable == {0}
    finally:
        slurm.run("scontrol", "delete", f"ReservationName={name}")
    assert SlurmBackend().capacity()["A100"].unavailable == frozenset()


def test_a_reservation_takes_as_many_nodes_as_asked_among_the_types_nodes(
    slurm: LocalSlurm,
    alice: User,
    alice_org: Organisation,
    h100_type: GpuType,
    provisioned: Callable[..., Project],
) -> None:
    project = provisioned(alice, alice_org, h100_type)
    backend = SlurmBackend()
    name = f"one-{uuid.uuid4().hex[:8]}"
    starts = backend.now() + timedelta(hours=2)

    nodes = backend.create_reservation(
        name=name,
        account=str(project.pk),
        gpu_type="H100",
        nodes=1,
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
    )
    backend.delete_reservation(name)

    assert len(nodes) == 1
    assert nodes[0] in (0, 1)


def test_a_reservation_slurm_cannot_make_is_refused_with_its_reason(
    slurm: LocalSlurm,
    alice: User,
    alice_org: Organisation,
    a100_type: GpuType,
    provisioned: Callable[..., Project],
) -> None:
    project = provisioned(alice, alice_org, a100_type)
    backend = SlurmBackend()
    starts = backend.now() + timedelta(minutes=30)

    with pytest.raises(ValueError, match="Slurm refused the reservation"):
        backend.create_reservation(
            name=f"too-big-{uuid.uuid4().hex[:8]}",
            account=str(project.pk),
            gpu_type="A100",
            nodes=2,  # there is one A100 node
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
        )
