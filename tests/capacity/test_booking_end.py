"""The end of a booking's window: the project is told an hour before (once), and jobs still
running in it at the end are stopped on the cluster with the reason ``booking_ended`` (also
when the booking is cancelled), without a charge; queued ones can never start and go too."""

from datetime import timedelta

import pytest

from booking.capacity.services.bookings import booking_cancel
from booking.capacity.tasks import bookings_advance
from booking.models import JobState, LedgerEntry, Notification, SimulatedJob
from tests.fixtures.capacity import at, book
from tests.fixtures.jobs import cycle, queue, reconcile

pytestmark = pytest.mark.usefixtures("clock")

RUNS_ITS_WALLTIME = "#!/bin/bash\npython train.py\n"


def running_booked_job(alice, norllm, clock, *, minutes_late: int = 10):
    """A job filling the booking's 3 hours, admitted ``minutes_late`` after the window opened
    (so its walltime runs past the end)."""
    booking = book(alice, norllm, start=2, hours=3, nodes=2)
    bookings_advance()  # the nodes are set aside
    job = queue(
        alice,
        norllm,
        gpus=16,
        walltime_minutes=180,
        script=RUNS_ITS_WALLTIME,
        booking_id=booking.pk,
    )
    clock.move_to(at(2) + timedelta(minutes=minutes_late))
    bookings_advance()
    cycle()
    reconcile()
    job.refresh_from_db()
    assert job.state == JobState.RUNNING
    return booking, job


def test_the_project_is_told_once_an_hour_before_the_end(alice, norllm, clock):
    booking, _job = running_booked_job(alice, norllm, clock)
    clock.move_to(at(4) - timedelta(minutes=1))
    assert bookings_advance()["ending_notified"] == 0
    clock.move_to(at(4))

    assert bookings_advance()["ending_notified"] == 1
    assert bookings_advance()["ending_notified"] == 0

    (notice,) = Notification.objects.filter(user=alice)
    assert notice.subject == f"Booking {booking.pk} of NorLLM ends at 2026-03-02 14:00 UTC"
    assert "Jobs still running in it then are stopped" in notice.body
    assert "1 are running now" in notice.body
    assert notice.url == f"/bookings/{booking.pk}/"


def test_a_job_still_running_at_the_end_is_stopped_on_the_cluster_without_a_charge(
    alice, norllm, clock, django_capture_on_commit_callbacks
):
    booking, job = running_booked_job(alice, norllm, clock)
    clock.move_to(at(5) - timedelta(seconds=1))
    assert bookings_advance()["jobs_stopped"] == 0
    clock.move_to(at(5))

    with django_capture_on_commit_callbacks(execute=True):
        assert bookings_advance()["jobs_stopped"] == 1
    assert bookings_advance()["jobs_stopped"] == 0

    job.refresh_from_db()
    assert (job.state, job.ended_at) == (JobState.CANCELLED, at(5))
    last = job.events.order_by("pk").last()
    assert (last.reason, last.to_state) == ("booking_ended", "cancelled")
    assert last.message.startswith(f"Stopped: capacity booking {booking.pk} ended.")
    assert SimulatedJob.objects.get(key=job.submission_key).state == "cancelled"
    assert not LedgerEntry.objects.filter(idempotency_key__startswith=f"job-{job.uuid}").exists()


def test_a_cancelled_booking_stops_its_running_and_queued_jobs(alice, norllm, clock, staff):
    booking, running = running_booked_job(alice, norllm, clock)
    queued = queue(alice, norllm, gpus=8, walltime_minutes=60, booking_id=booking.pk)
    booking_cancel(booking=booking, user=alice)

    assert bookings_advance()["jobs_stopped"] == 2

    for job in (running, queued):
        job.refresh_from_db()
        assert job.state == JobState.CANCELLED
        assert job.events.order_by("pk").last().reason == "booking_ended"


def test_jobs_of_other_bookings_and_general_jobs_keep_running(alice, norllm, bob, fjord, clock):
    later_booking = book(bob, fjord, start=4, hours=3, nodes=1)
    general = queue(bob, fjord, gpus=8, walltime_minutes=600, script=RUNS_ITS_WALLTIME)
    _booking, booked = running_booked_job(alice, norllm, clock)
    other = queue(bob, fjord, gpus=8, walltime_minutes=60, booking_id=later_booking.pk)
    clock.move_to(at(5))

    assert bookings_advance()["jobs_stopped"] == 1

    states = {j.pk: (j.refresh_from_db() or j.state) for j in (general, booked, other)}
    assert states == {
        general.pk: JobState.RUNNING,
        booked.pk: JobState.CANCELLED,
        other.pk: JobState.PENDING,
    }
