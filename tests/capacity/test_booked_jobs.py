"""Jobs inside a capacity booking: submitted into it through the API (specific refusals,
charlie gets 404), started by the admission cycle only inside its window and only on its
nodes, ahead of the general queue, never charged again; general jobs never use its nodes."""

from datetime import timedelta

import pytest

from booking.capacity.tasks import bookings_advance
from booking.models import CapacityBooking, Job, JobState, LedgerEntry
from tests.error_shape import assert_error
from tests.fixtures.capacity import at, book
from tests.fixtures.jobs import cycle, job_body, later, project_for, queue, reconcile

pytestmark = pytest.mark.usefixtures("clock")

JOBS = "/api/v1/jobs/"


def reserved(booking: CapacityBooking) -> set[int]:
    """Let the beat task set the booking's nodes aside; its node indices."""
    bookings_advance()
    booking.refresh_from_db()
    assert booking.node_indices, "the booking was not reserved"
    return set(booking.node_indices)


def nodes_of(job: Job) -> set[int]:
    job.refresh_from_db()
    return {node for node, _gpus in job.placement or ()}


def job_ledger(job: Job) -> list[str]:
    rows = LedgerEntry.objects.filter(idempotency_key__startswith=f"job-{job.uuid}")
    return list(rows.values_list("kind", flat=True))


# -- submitting into a booking --------------------------------------------------------------


def test_a_member_submits_a_job_into_the_booking_even_with_no_hours_left(
    api, alice, alice_org, site, clock
):
    project = project_for(alice, alice_org, site, gpu_hours=48, name="Exactly one booking")
    booking = book(alice, project, start=2, hours=3, nodes=2)  # 2 x 8 GPUs x 3 h = 48 h
    clock.move_to(at(2))
    bookings_advance()  # the window starts: all 48 hours are charged

    general = api(alice).post(JOBS, job_body(project, gpus=1, walltime_minutes=60), format="json")
    booked = api(alice).post(
        JOBS, job_body(project, gpus=16, walltime_minutes=120, booking=booking.pk), format="json"
    )

    assert_error(general, 409, "budget_exhausted")
    assert booked.status_code == 201, booked.json()
    assert booked.json()["booking"] == booking.pk
    job = Job.objects.get(pk=booked.json()["id"])
    assert (job.booking_id, job.state) == (booking.pk, JobState.PENDING)
    assert "Runs in capacity booking" in job.events.get().message


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"gpus": 24}, 409, "booking_too_small"),
        ({"walltime_minutes": 4 * 60}, 409, "walltime_past_booking"),
        ({"booking": 10**9}, 404, "unknown_booking"),
    ],
)
def test_a_job_that_does_not_fit_its_booking_is_refused_with_a_specific_code(
    api, alice, norllm, changes, status, code
):
    booking = book(alice, norllm, start=2, hours=3, nodes=2)
    body = job_body(norllm, gpus=16, walltime_minutes=120, booking=booking.pk) | changes

    response = api(alice).post(JOBS, body, format="json")

    assert_error(response, status, code)
    assert not Job.objects.exists()


def test_a_job_cannot_join_a_booking_that_is_over(api, alice, norllm, clock):
    booking = book(alice, norllm, start=2, hours=3, nodes=2)
    clock.move_to(at(5))
    body = job_body(norllm, gpus=8, walltime_minutes=60, booking=booking.pk)

    assert_error(api(alice).post(JOBS, body, format="json"), 409, "booking_over")


def test_charlie_gets_404_for_alices_booking_from_his_own_project_and_from_hers(
    api, alice, norllm, charlie, acme
):
    booking = book(alice, norllm, start=2, hours=3, nodes=2)
    own = job_body(acme, gpus=8, walltime_minutes=60, booking=booking.pk)
    hers = job_body(norllm, gpus=8, walltime_minutes=60, booking=booking.pk)

    body = assert_error(api(charlie).post(JOBS, own, format="json"), 404, "unknown_booking")
    assert_error(api(charlie).post(JOBS, hers, format="json"), 404, "not_found")
    assert "booking" in body["details"]
    assert not Job.objects.exists()


# -- admission ----------------------------------------------------------------------------


def test_a_booked_job_waits_for_its_window_then_starts_on_its_nodes_without_a_hold(
    alice, norllm, bob, fjord, clock
):
    booking = book(alice, norllm, start=2, hours=3, nodes=2)
    booked_nodes = reserved(booking)
    job = queue(alice, norllm, gpus=16, walltime_minutes=120, booking_id=booking.pk)
    general = [queue(bob, fjord, gpus=8, walltime_minutes=60, name=f"g{i}") for i in range(39)]

    cycle()

    job.refresh_from_db()
    assert (job.state, job.reason) == (JobState.PENDING, "booking_not_started")
    admitted = [g for g in general if (g.refresh_from_db() or g.state) == JobState.ADMITTED]
    assert len(admitted) == 38  # 40 nodes, 2 set aside for the booking
    assert not set().union(*(nodes_of(g) for g in admitted)) & booked_nodes
    waiting = next(g for g in general if g.state == JobState.PENDING)
    assert waiting.reason == "capacity"

    clock.move_to(at(2))
    assert job.pk in cycle().admitted
    assert nodes_of(job) == booked_nodes
    assert job_ledger(job) == []
    assert "paid by the booking" in job.events.order_by("pk").last().message


def test_booked_jobs_start_only_up_to_the_booking_nodes_ahead_of_the_general_queue(
    alice, norllm, bob, fjord, site, sim, clock
):
    booking = book(alice, norllm, start=2, hours=3, nodes=1)
    sim.set_partition(site, nodes=2)  # a node for the booking, one for everyone else
    CapacityBooking.objects.filter(pk=booking.pk).update(node_indices=[1], reserved_at=at(0))
    early_general = queue(bob, fjord, gpus=8, walltime_minutes=60, name="general")
    clock.move_to(at(2))
    first = queue(alice, norllm, gpus=8, walltime_minutes=60, name="1st", booking_id=booking.pk)
    second = queue(alice, norllm, gpus=4, walltime_minutes=60, name="2nd", booking_id=booking.pk)

    admitted = cycle().admitted

    assert admitted[0] == first.pk
    assert nodes_of(first) == {1}
    assert nodes_of(early_general) == {0}
    second.refresh_from_db()
    assert (second.state, second.reason) == (JobState.PENDING, "capacity")


def test_no_general_job_starts_on_nodes_a_booking_needs_before_its_walltime_ends(
    alice, norllm, bob, fjord, site, sim
):
    booking = book(alice, norllm, start=30, hours=3, nodes=1)
    sim.set_partition(site, nodes=2)
    CapacityBooking.objects.filter(pk=booking.pk).update(node_indices=[0], reserved_at=at(0))
    long_jobs = [queue(bob, fjord, gpus=8, walltime_minutes=48 * 60, name=f"l{i}") for i in (0, 1)]

    assert cycle().admitted == [long_jobs[0].pk]

    assert nodes_of(long_jobs[0]) == {1}
    long_jobs[1].refresh_from_db()
    assert (long_jobs[1].state, long_jobs[1].reason) == (JobState.PENDING, "capacity")


def test_a_booked_job_is_never_charged_the_booking_paid(alice, norllm, sim, clock):
    booking = book(alice, norllm, start=2, hours=3, nodes=2)
    reserved(booking)
    clock.move_to(at(2))
    bookings_advance()  # the window starts: the booking is charged
    job = queue(alice, norllm, gpus=16, walltime_minutes=120, booking_id=booking.pk)
    cycle()
    reconcile()
    later(sim, minutes=31)
    reconcile()

    job.refresh_from_db()
    assert job.state == JobState.COMPLETED
    assert job_ledger(job) == []
    assert "Paid by capacity booking" in job.events.order_by("pk").last().message
    booking_entries = LedgerEntry.objects.filter(idempotency_key__startswith="booking-")
    assert sorted(booking_entries.values_list("kind", flat=True)) == ["charge", "hold", "release"]


def test_a_booked_job_is_sent_to_the_cluster_with_its_reservation(alice, norllm, clock):
    from booking.admission.dispatch import job_spec

    booking = book(alice, norllm, start=2, hours=3, nodes=2)
    job = queue(alice, norllm, gpus=8, walltime_minutes=60, booking_id=booking.pk)
    general = queue(alice, norllm, gpus=8, walltime_minutes=60)

    assert job_spec(job).reservation == f"booking-{booking.uuid}"
    assert job_spec(general).reservation is None
    assert timedelta(0) < booking.starts_at - at(0)


# -- estimated start ----------------------------------------------------------------------


def test_the_estimated_start_leaves_out_the_nodes_of_a_booking_starting_soon(
    alice, norllm, bob, fjord, clock
):
    from booking.jobs.queue import queue_standing

    def estimated_start(job, *, now):
        job.refresh_from_db()
        return queue_standing(job, now=now).estimated_start

    booking = book(alice, norllm, start=2, hours=3, nodes=10)  # the whole bookable pool
    reserved(booking)
    running = [queue(bob, fjord, gpus=8, walltime_minutes=60, name=f"r{i}") for i in range(30)]
    assert len(cycle().admitted) == 30  # the 30 nodes outside the booking
    waiting = queue(bob, fjord, gpus=8, walltime_minutes=60, name="next")
    booked = queue(alice, norllm, gpus=80, walltime_minutes=120, booking_id=booking.pk)
    assert cycle().admitted == []  # the cycle's queue record now holds both

    # 80 GPUs look free, but they are the booking's: the next general job waits for the
    # first running job to end; the booked job starts when the window opens.
    running[0].refresh_from_db()
    assert estimated_start(waiting, now=at(0)) == running[0].expected_end == at(1)
    assert estimated_start(booked, now=at(0)) == at(2)
    second = queue(alice, norllm, gpus=8, walltime_minutes=60, booking_id=booking.pk)
    assert estimated_start(second, now=at(0)) is None  # it would run past the window's end
    clock.move_to(at(2))
    cycle()
    later_one = queue(alice, norllm, gpus=8, walltime_minutes=30, booking_id=booking.pk)
    booked.refresh_from_db()
    assert booked.state == JobState.ADMITTED
    assert estimated_start(later_one, now=at(2)) == at(4)  # when the booked job's walltime ends


def test_a_job_of_another_gpu_type_cannot_join_the_booking(api, alice, norllm, sim):
    from tests.factories import GpuTypeFactory
    from tests.fixtures.slurm import project_for_type

    a100 = GpuTypeFactory.create(name="A100", gpus_per_node=4)
    sim.set_partition(a100, nodes=4)
    project_for_type(norllm, a100)
    booking = book(alice, norllm, start=2, hours=3, nodes=2)
    body = job_body(norllm, gpu_type="A100", gpus=4, walltime_minutes=60, booking=booking.pk)

    refused = assert_error(
        api(alice).post(JOBS, body, format="json"), 409, "booking_gpu_type_mismatch"
    )

    assert refused["message"] == "This booking is of H100 nodes."
    assert not Job.objects.exists()
