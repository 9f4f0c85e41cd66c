"""When a window starts its hours are charged (once, whatever retries), when it ends the
booking is completed; ahead of the start the simulated cluster sets the booked nodes aside,
and a cancellation gives them back."""

from datetime import timedelta
from decimal import Decimal

import pytest

from booking.capacity.lifecycle import booking_start
from booking.capacity.reservations import booking_reserve, reservations_sync
from booking.capacity.services.bookings import booking_cancel
from booking.capacity.tasks import bookings_advance
from booking.models import BookingState, CapacityBooking, LedgerEntry, SimulatedReservation
from tests.fixtures.capacity import at, book

pytestmark = pytest.mark.usefixtures("clock")


def kinds(booking: CapacityBooking) -> list[str]:
    rows = LedgerEntry.objects.filter(idempotency_key__startswith=f"booking-{booking.uuid}-")
    return list(rows.order_by("pk").values_list("kind", flat=True))


def test_the_window_start_charges_the_booking_once(alice, norllm, clock):
    booking = book(alice, norllm, start=48, hours=24)
    clock.move_to(at(47) + timedelta(minutes=59))
    bookings_advance()
    assert CapacityBooking.objects.get().state == BookingState.CONFIRMED
    clock.move_to(at(48))
    assert bookings_advance()["started"] == 1
    assert bookings_advance()["started"] == 0
    assert booking_start(booking_id=booking.pk, now=at(48)) is False  # a retry changes nothing
    started = CapacityBooking.objects.get()
    assert (started.state, started.charged_at) == (BookingState.ACTIVE, at(48))
    assert kinds(booking) == ["hold", "release", "charge"]
    charge = LedgerEntry.objects.get(kind="charge")
    assert charge.gpu_hours == Decimal(192)


def test_the_window_end_completes_the_booking(alice, norllm, clock):
    book(alice, norllm, start=48, hours=24)
    clock.move_to(at(48))
    bookings_advance()
    clock.move_to(at(72))
    assert bookings_advance()["finished"] == 1
    assert CapacityBooking.objects.get().state == BookingState.COMPLETED


def test_a_charge_the_ledger_refuses_is_kept_for_staff_and_retried(alice, norllm, clock):
    booking = book(alice, norllm, start=48)
    norllm.state = "suspended"
    norllm.save()
    clock.move_to(at(48))
    bookings_advance()
    waiting = CapacityBooking.objects.get()
    assert (waiting.state, waiting.charge_problem) == (BookingState.CONFIRMED, "project_suspended")
    assert kinds(booking) == ["hold"]  # the hold stays, nothing half-done
    norllm.state = "active"
    norllm.save()
    bookings_advance()
    assert CapacityBooking.objects.get().state == BookingState.ACTIVE


def test_the_cluster_sets_the_booked_nodes_aside_ahead_of_the_start(alice, norllm, clock):
    booking = book(alice, norllm, start=24 * 7, hours=24, nodes=3)
    assert reservations_sync(now=at(0))["reserved"] == 0  # a week ahead: not yet
    clock.move_to(at(24 * 7 - 49))  # the longest walltime (48 h) plus an hour before the start
    assert bookings_advance()["reserved"] == 1
    assert bookings_advance()["reserved"] == 0
    booking.refresh_from_db()
    reservation = SimulatedReservation.objects.get()
    assert reservation.name == f"booking-{booking.uuid}"
    assert (reservation.account, reservation.gpu_type) == (str(norllm.pk), "H100")
    assert (reservation.starts_at, reservation.ends_at) == (booking.starts_at, booking.ends_at)
    assert sorted(booking.node_indices) == sorted(reservation.node_indices)
    assert len(booking.node_indices) == 3


def test_two_bookings_of_the_same_hours_get_different_nodes(alice, norllm, bob, fjord):
    first = book(alice, norllm, start=10, nodes=4)
    second = book(bob, fjord, start=12, nodes=4)
    reservations_sync(now=at(0))
    first.refresh_from_db()
    second.refresh_from_db()
    assert not set(first.node_indices) & set(second.node_indices)


def test_a_reservation_made_before_a_crash_is_not_made_twice(alice, norllm):
    booking = book(alice, norllm, start=10, nodes=2)
    # The cluster answered, then the worker died before its commit: the name is taken.
    SimulatedReservation.objects.create(
        name=booking.reservation_name,
        account=str(norllm.pk),
        gpu_type="H100",
        node_indices=[0, 1],
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
    )
    nodes = booking_reserve(booking_id=booking.pk, now=at(0))
    assert nodes is not None
    assert len(nodes) == 2
    assert SimulatedReservation.objects.count() == 1


def test_a_cancelled_booking_gives_its_nodes_back_to_the_cluster(alice, norllm):
    booking = book(alice, norllm, start=10, nodes=2)
    reservations_sync(now=at(0))
    assert SimulatedReservation.objects.count() == 1
    booking_cancel(booking=booking, user=alice)
    assert reservations_sync(now=at(0))["dropped"] == 1
    assert reservations_sync(now=at(0))["dropped"] == 0
    assert not SimulatedReservation.objects.exists()
    assert CapacityBooking.objects.get().unreserved_at == at(0)


def test_beat_makes_the_counter_rows_of_the_hours_coming_into_the_horizon(
    alice, norllm, site, clock
):
    from booking.capacity.policies import policy_for
    from booking.models import CapacityHour

    policy_for(site)
    assert bookings_advance()["hours_prepared"] == 56 * 24 + 14 * 24 + 1
    assert bookings_advance()["hours_prepared"] == 0
    clock.move_to(at(1))
    assert bookings_advance()["hours_prepared"] == 1
    rows = CapacityHour.objects.filter(gpu_type=site)
    assert rows.count() == 56 * 24 + 14 * 24 + 2
    assert not rows.exclude(booked_nodes=0).exists()
    book(alice, norllm, start=48, hours=2, nodes=3)  # finds its rows made
    assert rows.count() == 56 * 24 + 14 * 24 + 2
    assert sorted(rows.exclude(booked_nodes=0).values_list("booked_nodes", flat=True)) == [3, 3]
