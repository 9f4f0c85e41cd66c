"""What admission and job submission will read of bookings: the bookings near in the policy's
shape, and whether a job may name a booking."""

from datetime import timedelta

import pytest

from booking.capacity.jobs import booking_for_job, bookings_near
from booking.capacity.reservations import reservations_sync
from booking.capacity.services.bookings import booking_cancel
from stargate_portal.errors import DomainError
from tests.fixtures.capacity import at, book

pytestmark = pytest.mark.usefixtures("clock")


def test_the_policy_gets_the_reserved_bookings_open_now_or_starting_soon(alice, norllm, bob, fjord):
    soon = book(alice, norllm, start=10, hours=5, nodes=2)
    later = book(bob, fjord, start=24 * 10, hours=5, nodes=1)
    gone = book(alice, norllm, start=12, hours=2, nodes=1)
    reservations_sync(now=at(0))
    booking_cancel(booking=gone, user=alice)
    near = bookings_near(now=at(0), within=timedelta(hours=49))
    assert [b.booking_id for b in near] == [soon.pk]
    soon.refresh_from_db()
    (only,) = near
    assert (only.project_id, only.gpu_type, only.node_indices) == (
        norllm.pk,
        "H100",
        tuple(soon.node_indices),
    )
    assert (only.start, only.end) == (at(10).timestamp(), at(15).timestamp())
    assert only.is_open(at(12).timestamp())
    assert later.pk not in [
        b.booking_id for b in bookings_near(now=at(0), within=timedelta(days=2))
    ]


def test_a_job_may_name_its_projects_booking_within_its_nodes_and_window(
    alice, norllm, site, charlie, acme
):
    booking = book(alice, norllm, start=10, hours=5, nodes=2)
    fits = {"gpu_type": site, "gpus": 16, "walltime_minutes": 300, "now": at(0)}
    assert booking_for_job(project=norllm, booking_id=booking.pk, **fits) == booking

    def code(**changes) -> str:
        with pytest.raises(DomainError) as caught:
            booking_for_job(**({"project": norllm, "booking_id": booking.pk} | fits | changes))
        return caught.value.code

    assert code(project=acme) == "unknown_booking"
    assert code(gpus=17) == "booking_too_small"
    assert code(walltime_minutes=301) == "walltime_past_booking"
    assert code(now=at(15)) == "booking_over"
