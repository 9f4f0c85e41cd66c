"""Staff console: the timeline of every booking per GPU type, the booking rules per GPU type
(changed with a reason, audited, in force at once), a booking's cancel and refund overrides."""

import pytest
from django.urls import reverse

from booking.capacity.policies import policy_for
from booking.capacity.tasks import bookings_advance
from booking.models import BookingState, CapacityAuditEntry, CapacityBooking
from tests.fixtures.capacity import at, book
from tests.pages import field_errors, page_text

pytestmark = pytest.mark.usefixtures("clock")

TIMELINE = reverse("capacity_console:timeline")


def test_the_timeline_draws_every_booking_of_the_fortnight_in_a_few_queries(
    login, staff, alice, norllm, bob, fjord, django_assert_max_num_queries
):
    for start in range(10, 10 + 24 * 12, 24):
        book(alice, norllm, start=start, hours=30, nodes=2)
        book(bob, fjord, start=start + 5, hours=3, nodes=4)
    client = login(staff)
    with django_assert_max_num_queries(10):
        response = client.get(TIMELINE, {"gpu_type": "H100"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('class="timeline__bar"') == 24
    assert "NorLLM · 2" in body
    assert "Fjord vision · 4" in body
    assert "at most 10 of 40 nodes bookable in any hour" in page_text(response)


def test_the_console_is_for_staff_only(login, alice, norllm):
    booking = book(alice, norllm)
    client = login(alice)
    assert client.get(TIMELINE).status_code == 403
    assert (
        client.get(reverse("capacity_console:booking_detail", args=[booking.pk])).status_code == 403
    )
    assert client.get(reverse("capacity_console:policy_list")).status_code == 403


def test_staff_change_the_rules_of_a_gpu_type_with_a_reason_and_it_is_audited(
    login, staff, site, charlie, acme
):
    url = reverse("capacity_console:policy_edit", args=["H100"])
    client = login(staff)
    fields = {
        "pool_percent": "50",
        "horizon_days_tier_1": 70,
        "horizon_days_tier_2": 63,
        "horizon_days_tier_3": 42,
        "horizon_days_tier_4": 35,
    }
    missing = client.post(url, fields)
    assert field_errors(missing, "reason")
    response = client.post(url, fields | {"reason": "Second hall online"})
    assert response.status_code == 302
    policy = policy_for(site)
    assert (policy.pool_nodes, policy.horizons()) == (20, {1: 70, 2: 63, 3: 42, 4: 35})
    entry = CapacityAuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.reason) == (
        "policy_changed",
        staff,
        "Second hall online",
    )
    assert entry.before["pool_share"] == "0.250"
    assert entry.after == {
        "pool_share": "0.500",
        "horizon_days_tier_1": 70,
        "horizon_days_tier_2": 63,
        "horizon_days_tier_3": 42,
        "horizon_days_tier_4": 35,
    }
    assert book(charlie, acme, start=35 * 24, hours=1, nodes=20).node_count == 20
    assert "Second hall online" in page_text(client.get(reverse("capacity_console:policy_list")))


def test_staff_cancel_a_late_booking_with_a_refund_from_its_page(
    login, staff, alice, norllm, clock
):
    booking = book(alice, norllm, start=10)
    clock.move_to(at(2))
    client = login(staff)
    page = page_text(client.get(reverse("capacity_console:booking_detail", args=[booking.pk])))
    assert "After the refund deadline: the booking stays charged unless you refund it." in page
    url = reverse("capacity_console:booking_cancel", args=[booking.pk])
    refused = client.post(url, {"cancel-refund": "on"})
    assert field_errors(refused, "cancel-reason")
    response = client.post(url, {"cancel-refund": "on", "cancel-reason": "Node firmware recall"})
    assert response.status_code == 302
    cancelled = CapacityBooking.objects.get()
    assert cancelled.state == BookingState.CANCELLED
    assert cancelled.released_at is not None
    assert CapacityAuditEntry.objects.get().reason == "Node firmware recall"
    assert alice.notifications.filter(subject=f"Staff cancelled your booking {booking.pk}").exists()


def test_staff_refund_a_charged_booking_from_its_page(login, staff, alice, norllm, clock):
    booking = book(alice, norllm, start=10)
    clock.move_to(at(11))
    bookings_advance()
    client = login(staff)
    url = reverse("capacity_console:booking_refund", args=[booking.pk])
    response = client.post(url, {"refund-reason": "Hall B outage during the window"})
    assert response.status_code == 302
    assert CapacityBooking.objects.get().refunded_at is not None
    again = client.post(url, {"refund-reason": "twice"})
    assert "Only a charged booking that was not refunded yet" in page_text(again)
