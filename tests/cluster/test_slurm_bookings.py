"""Capacity bookings on the live local Slurm cluster (``CLUSTER_BACKEND=slurm``): the beat task
turns a booking into a Slurm reservation of whole nodes for the project's account; a job
submitted into the booking is sent with ``--reservation`` and starts on the reserved node; a
general job does not take it; the reservation goes when the booking is cancelled, and the
booked job with it."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import Organisation, User
from booking.capacity.tasks import bookings_advance
from booking.cluster.slurm.backend import SlurmBackend
from booking.models import BookingState, CapacityBooking, GpuType, Job, JobState, Project
from tests.fixtures.jobs import cycle, reconcile
from tests.fixtures.slurm import JOB_PREFIX, LocalSlurm, wait_until

pytestmark = pytest.mark.slurm

SLEEPS = "#!/bin/bash\nsleep 120\n"


def drop_test_reservations(slurm: LocalSlurm) -> None:
    """Reservations of the tests' bookings outlive a failed run in the controller's state."""
    for line in slurm.run("scontrol", "show", "reservation", "-o", check=False).splitlines():
        name = (
            line.split("ReservationName=", 1)[-1].split()[0] if "ReservationName=" in line else ""
        )
        if name.startswith(f"{JOB_PREFIX}booking-"):
            slurm.run("scontrol", "delete", f"ReservationName={name}", check=False)


@pytest.fixture(autouse=True)
def no_test_reservations(slurm: LocalSlurm) -> Any:
    drop_test_reservations(slurm)
    yield
    slurm.cancel_test_jobs()
    drop_test_reservations(slurm)


def slurm_booking(project: Project, user: User, gpu_type: GpuType) -> CapacityBooking:
    """One H100 node for the project from a few seconds from now, for an hour. Made as a row:
    the booking rules (hour-aligned, an hour ahead) are tested on the simulator; the live
    cluster runs in real time and cannot wait an hour."""
    starts = SlurmBackend().now().replace(microsecond=0) + timedelta(seconds=3)
    return CapacityBooking.objects.create(
        project=project,
        gpu_type=gpu_type,
        node_count=1,
        gpus_per_node=8,
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        gpu_hours=Decimal(8),
        created_by=user,
    )


def submit(api: Callable[..., Any], user: User, project: Project, **body: Any) -> Job:
    fields = {
        "project": project.pk,
        "gpu_type": "H100",
        "gpus": 8,
        "walltime_minutes": 10,
        "name": "train",
        "script": SLEEPS,
    } | body
    response = api(user).post("/api/v1/jobs/", fields, format="json")
    assert response.status_code == 201, response.json()
    return Job.objects.get(pk=response.json()["id"])


def slurm_node(slurm: LocalSlurm, job: Job) -> str:
    """The node Slurm runs the job on (once it runs)."""
    name = f"{JOB_PREFIX}{job.submission_key}"

    def running() -> str:
        reconcile()
        rows = slurm.squeue(name)
        return rows[0][2] if rows and rows[0][1] == "RUNNING" else ""

    return wait_until(running, timeout=60, every=0.5)


def test_a_booked_job_starts_in_its_reservation_and_a_general_job_keeps_off_the_node(
    slurm: LocalSlurm,
    alice: User,
    alice_org: Organisation,
    h100_type: GpuType,
    provisioned: Callable[..., Project],
    api: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    project = provisioned(alice, alice_org, h100_type, name="NorLLM", gpu_hours=10_000)
    booking = slurm_booking(project, alice, h100_type)

    assert bookings_advance()["reserved"] == 1
    booking.refresh_from_db()
    reservation = f"{JOB_PREFIX}{booking.reservation_name}"
    shown = slurm.run("scontrol", "show", "reservation", reservation, "-o")
    reserved_node = shown.split("Nodes=", 1)[1].split()[0]
    assert f"Accounts={slurm.account_prefix}{project.pk}" in shown
    assert "NodeCnt=1" in shown
    assert booking.node_indices == [int(reserved_node.removeprefix("gpu")) - 1]

    booked = submit(api, alice, project, booking=booking.pk)
    general = [submit(api, alice, project, name=f"general-{i}") for i in (0, 1)]
    wait_until(lambda: SlurmBackend().now() >= booking.starts_at, timeout=10)
    admitted = cycle().admitted
    assert booked.pk in admitted
    assert general[0].pk in admitted  # on the other H100 node
    general[1].refresh_from_db()
    assert (general[1].state, general[1].reason) == (JobState.PENDING, "capacity")

    assert slurm_node(slurm, booked) == reserved_node
    assert slurm_node(slurm, general[0]) != reserved_node
    assert reservation in slurm.run(
        "squeue", "-h", "-n", f"{JOB_PREFIX}{booked.submission_key}", "-o", "%v"
    )

    # Cancelled (the service's counters and ledger are tested on the simulator): the beat
    # task stops the booked job on Slurm and drops the reservation.
    CapacityBooking.objects.filter(pk=booking.pk).update(
        state=BookingState.CANCELLED, cancelled_at=SlurmBackend().now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert bookings_advance()["jobs_stopped"] == 1
    booked.refresh_from_db()
    assert booked.state == JobState.CANCELLED
    assert booked.events.order_by("pk").last().reason == "booking_ended"
    name = f"{JOB_PREFIX}{booked.submission_key}"
    wait_until(lambda: slurm.squeue(name)[0][1] not in ("RUNNING", "PENDING", "COMPLETING"))
    # Slurm keeps the reservation while the stopped job completes: dropped by a later run.
    wait_until(lambda: bookings_advance()["dropped"] == 1, timeout=30, every=1)
    gone = slurm.run("scontrol", "show", "reservation", reservation, "-o", check=False)
    assert "not found" in gone.lower() or not gone.strip()
    assert bookings_advance()["dropped"] == 0
