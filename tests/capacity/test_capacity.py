"""The bookable pool: every hour of a window is checked against it; availability per hour;
a refusal names the nearest free windows of the same length and size."""

from datetime import timedelta

import pytest
from django.db.models import Sum

from booking.capacity.availability import availability
from booking.capacity.policies import policy_for
from booking.capacity.services.bookings import booking_cancel
from booking.models import CapacityBooking, CapacityHour
from stargate_portal.errors import DomainError
from tests.fixtures.capacity import POOL_NODES, SITE_NODES, at, book

pytestmark = pytest.mark.usefixtures("clock")


def test_a_quarter_of_the_nodes_is_bookable_by_default(site):
    policy = policy_for(site)
    assert (policy.site_nodes, policy.pool_share, policy.pool_nodes) == (
        SITE_NODES,
        pytest.approx(0.25),
        POOL_NODES,
    )
    assert policy.horizons() == {1: 56, 2: 56, 3: 42, 4: 28}


def test_availability_shows_the_free_nodes_of_every_hour(alice, norllm, bob, fjord, site):
    book(alice, norllm, start=48, hours=3, nodes=4)
    book(bob, fjord, start=49, hours=1, nodes=6)
    found = availability(gpu_type=site, policy=policy_for(site), starts_at=at(47), ends_at=at(52))
    assert [(hour.starts_at, hour.free_nodes) for hour in found.hours] == [
        (at(47), 10),
        (at(48), 6),
        (at(49), 0),
        (at(50), 6),
        (at(51), 10),
    ]


def test_one_full_hour_inside_the_window_refuses_the_booking_with_the_nearest_free_windows(
    alice, norllm, bob, fjord
):
    book(bob, fjord, start=60, hours=1, nodes=POOL_NODES)  # hour 60 is fully booked
    with pytest.raises(DomainError) as caught:
        book(alice, norllm, start=48, hours=24, nodes=1)
    error = caught.value
    assert error.code == "capacity_unavailable"
    assert error.status_code == 409
    assert error.details["short_hours"] == [{"starts_at": at(60).isoformat(), "free_nodes": 0}]
    # Of the same length and size: ending by hour 60, or starting after it.
    assert error.details["nearest_before"] == {
        "starts_at": at(36).isoformat(),
        "ends_at": at(60).isoformat(),
    }
    assert error.details["nearest_after"] == {
        "starts_at": at(61).isoformat(),
        "ends_at": at(85).isoformat(),
    }
    assert CapacityBooking.objects.count() == 1


def test_the_nearest_windows_stay_inside_the_booking_horizon(alice, norllm, bob, fjord):
    book(bob, fjord, start=2, hours=30, nodes=POOL_NODES)
    with pytest.raises(DomainError) as caught:
        book(alice, norllm, start=10, hours=5)
    assert caught.value.details["nearest_before"] is None  # hours 1..31 are taken
    assert caught.value.details["nearest_after"]["starts_at"] == at(32).isoformat()


def test_the_hour_counters_always_equal_the_bookings_that_cover_them(
    alice, norllm, bob, fjord, clock
):
    kept = [
        book(alice, norllm, start=10, hours=5, nodes=3),
        book(bob, fjord, start=12, hours=10, nodes=2),
    ]
    gone = book(alice, norllm, start=11, hours=3, nodes=4)
    booking_cancel(booking=gone, user=alice)
    for row in CapacityHour.objects.all():
        covering = [b for b in kept if b.starts_at <= row.hour < b.ends_at]
        assert row.booked_nodes == sum(b.node_count for b in covering), row
    assert CapacityHour.objects.aggregate(total=Sum("booked_nodes"))["total"] == 3 * 5 + 2 * 10


def test_a_smaller_pool_keeps_the_bookings_already_made(alice, norllm, site, staff):
    from booking.capacity.services.policies import capacity_policy_update

    book(alice, norllm, start=48, hours=1, nodes=8)
    capacity_policy_update(
        gpu_type=site, staff=staff, reason="Maintenance season", changes={"pool_share": "0.1"}
    )
    assert CapacityBooking.objects.count() == 1
    found = availability(
        gpu_type=site,
        policy=policy_for(site),
        starts_at=at(48),
        ends_at=at(48) + timedelta(hours=1),
    )
    assert (found.pool_nodes, found.hours[0].free_nodes) == (4, 0)
