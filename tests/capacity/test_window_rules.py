"""The rules of a booking's window at their edges: whole hours, 1 hour to 14 days, at least an
hour and at most the tier's horizon ahead (8 weeks for tiers 1-2, 4 weeks for tier 4)."""

from datetime import timedelta

import pytest

from booking.models import CapacityBooking
from stargate_portal.errors import DomainError
from tests.fixtures.capacity import POOL_NODES, at, book

pytestmark = pytest.mark.usefixtures("clock")

EIGHT_WEEKS = 8 * 7 * 24
FOUR_WEEKS = 4 * 7 * 24


def refusal(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def test_a_booking_starting_exactly_eight_weeks_ahead_is_accepted(alice, norllm):
    booking = book(alice, norllm, start=EIGHT_WEEKS, hours=1)
    assert booking.starts_at == at(EIGHT_WEEKS)


def test_a_booking_starting_an_hour_after_eight_weeks_is_outside_the_booking_horizon(alice, norllm):
    error = refusal(lambda: book(alice, norllm, start=EIGHT_WEEKS + 1, hours=1))
    assert error.code == "outside_booking_horizon"
    assert error.details["latest_start"] == at(EIGHT_WEEKS).isoformat()
    assert error.details["tier"] == 1
    assert not CapacityBooking.objects.exists()


def test_an_international_project_books_at_most_four_weeks_ahead(charlie, acme):
    assert book(charlie, acme, start=FOUR_WEEKS, hours=1).starts_at == at(FOUR_WEEKS)
    error = refusal(lambda: book(charlie, acme, start=FOUR_WEEKS + 1, hours=1))
    assert error.code == "outside_booking_horizon"
    assert (error.details["tier"], error.details["horizon_days"]) == (4, 28)


def test_a_booking_starts_at_least_an_hour_ahead(alice, norllm):
    assert refusal(lambda: book(alice, norllm, start=0)).code == "outside_booking_horizon"
    assert book(alice, norllm, start=1).starts_at == at(1)


def test_between_two_whole_hours_the_earliest_start_is_the_next_whole_hour_but_one(
    alice, norllm, clock
):
    clock.shift(timedelta(minutes=30))  # 09:30: 10:00 is less than an hour ahead
    assert refusal(lambda: book(alice, norllm, start=1)).code == "outside_booking_horizon"
    assert book(alice, norllm, start=2).starts_at == at(2)


def test_a_window_off_the_whole_hour_is_not_aligned(alice, norllm):
    error = refusal(lambda: book(alice, norllm, start=48.5))
    assert error.code == "not_aligned"
    assert error.status_code == 400


def test_fourteen_days_is_the_longest_booking(alice, norllm):
    assert book(alice, norllm, start=48, hours=14 * 24).hours == 336
    error = refusal(lambda: book(alice, norllm, start=48, hours=14 * 24 + 1))
    assert error.code == "too_long"
    assert error.details == {"max_hours": 336, "hours": 337}


def test_a_window_that_ends_before_it_starts_is_refused(alice, norllm):
    error = refusal(lambda: book(alice, norllm, start=48, hours=-2))
    assert error.code == "ends_before_start"


def test_more_nodes_than_the_bookable_pool_are_refused(alice, norllm):
    error = refusal(lambda: book(alice, norllm, nodes=POOL_NODES + 1))
    assert error.code == "exceeds_bookable_pool"
    assert error.details == {"pool_nodes": POOL_NODES}


def test_a_booking_past_the_end_of_the_allocation_is_refused(alice, norllm):
    allocation = norllm.allocations.get()
    allocation.ends_on = at(72).date()
    allocation.save()
    assert book(alice, norllm, start=48, hours=24).ends_at == at(72)  # ends 09:00 that day
    error = refusal(lambda: book(alice, norllm, start=24 * 5, hours=24))
    assert error.code == "outside_allocation"
