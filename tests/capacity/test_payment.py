"""Bookings are paid from the ledger: the full GPU-hours held at creation, charged when the
window starts; a full release at least 24 hours before the start, none later unless staff
override with a reason."""

from datetime import timedelta
from decimal import Decimal

import pytest

from booking.capacity.services.bookings import booking_cancel, booking_refund
from booking.ledger.selectors import balance_of
from booking.models import (
    BookingState,
    CapacityAuditAction,
    CapacityAuditEntry,
    CapacityBooking,
    LedgerEntry,
    ProjectMember,
    ProjectRole,
)
from stargate_portal.errors import DomainError
from tests.factories import UserFactory
from tests.fixtures.capacity import at, book
from tests.fixtures.jobs import project_for

pytestmark = pytest.mark.usefixtures("clock")


def entries(booking: CapacityBooking) -> list[tuple[str, Decimal]]:
    keys = LedgerEntry.objects.filter(idempotency_key__startswith=f"booking-{booking.uuid}-")
    return list(keys.order_by("pk").values_list("kind", "gpu_hours"))


def test_creating_a_booking_holds_its_full_gpu_hours(alice, norllm, site):
    booking = book(alice, norllm, start=48, hours=24, nodes=2)
    assert booking.gpu_hours == Decimal(2 * 8 * 24)
    assert entries(booking) == [("hold", Decimal("384.0000"))]
    balance = balance_of(project=norllm, gpu_type=site)
    assert (balance.held, balance.available) == (Decimal(384), Decimal(20_000 - 384))
    assert booking.state == BookingState.CONFIRMED


def test_a_booking_the_balance_cannot_cover_is_refused(alice, alice_org, site):
    small = project_for(alice, alice_org, site, gpu_hours=100, name="Small")
    with pytest.raises(DomainError) as caught:
        book(alice, small, hours=24)  # 192 GPU-hours
    assert caught.value.code == "insufficient_balance"
    assert caught.value.details == {
        "requested_gpu_hours": "192.0000",
        "available_gpu_hours": "100.0000",
    }
    assert not CapacityBooking.objects.exists()
    assert not LedgerEntry.objects.filter(kind="hold").exists()


def test_cancelling_well_before_the_start_releases_every_hour(alice, norllm, site):
    booking = book(alice, norllm, start=48)
    cancelled = booking_cancel(booking=booking, user=alice)
    assert cancelled.state == BookingState.CANCELLED
    assert cancelled.released_at is not None
    assert cancelled.charged_at is None
    assert entries(booking) == [("hold", Decimal(192)), ("release", Decimal(-192))]
    assert balance_of(project=norllm, gpu_type=site).available == Decimal(20_000)


def test_cancelling_exactly_24_hours_before_the_start_still_releases_every_hour(
    alice, norllm, clock
):
    booking = book(alice, norllm, start=48)
    clock.move_to(at(24))
    cancelled = booking_cancel(booking=booking, user=alice)
    assert cancelled.released_at is not None
    assert [kind for kind, _hours in entries(booking)] == ["hold", "release"]


def test_cancelling_a_second_after_the_refund_deadline_charges_the_booking(
    alice, norllm, site, clock
):
    booking = book(alice, norllm, start=48)
    clock.move_to(at(24) + timedelta(seconds=1))
    cancelled = booking_cancel(booking=booking, user=alice, reason="plans changed")
    assert cancelled.state == BookingState.CANCELLED
    assert cancelled.released_at is None
    assert cancelled.charged_at is not None
    assert entries(booking) == [
        ("hold", Decimal(192)),
        ("release", Decimal(-192)),
        ("charge", Decimal(192)),
    ]
    balance = balance_of(project=norllm, gpu_type=site)
    assert (balance.held, balance.charged) == (Decimal(0), Decimal(192))
    assert not CapacityAuditEntry.objects.exists()  # alice's own cancellation


def test_staff_refund_a_late_cancellation_with_a_reason_and_it_is_audited(
    alice, norllm, site, staff, clock
):
    booking = book(alice, norllm, start=48)
    clock.move_to(at(30))
    with pytest.raises(DomainError) as caught:
        booking_cancel(booking=booking, user=staff, refund=True)
    assert caught.value.code == "invalid"
    assert "reason" in caught.value.details
    cancelled = booking_cancel(
        booking=booking, user=staff, refund=True, reason="Cooling failure in hall B"
    )
    assert cancelled.released_at is not None
    assert cancelled.charged_at is None
    assert balance_of(project=norllm, gpu_type=site).available == Decimal(20_000)
    audit = CapacityAuditEntry.objects.get()
    assert (audit.action, audit.actor, audit.reason, audit.booking) == (
        CapacityAuditAction.BOOKING_CANCELLED,
        staff,
        "Cooling failure in hall B",
        booking,
    )
    assert audit.before["state"] == "confirmed"
    assert audit.after["released"] is True


def test_only_staff_refund_a_late_cancellation(alice, norllm, clock):
    booking = book(alice, norllm, start=48)
    clock.move_to(at(30))
    with pytest.raises(DomainError) as caught:
        booking_cancel(booking=booking, user=alice, refund=True, reason="please")
    assert caught.value.code == "permission_denied"
    assert CapacityBooking.objects.get().state == BookingState.CONFIRMED


def test_staff_refund_a_charged_booking_once(alice, norllm, site, staff, clock):
    booking = book(alice, norllm, start=48)
    clock.move_to(at(30))
    booking_cancel(booking=booking, user=alice)
    refunded = booking_refund(booking=booking, staff=staff, reason="Goodwill after outage")
    assert refunded.refunded_at is not None
    assert entries(booking)[-1] == ("refund", Decimal(-192))
    assert balance_of(project=norllm, gpu_type=site).available == Decimal(20_000)
    with pytest.raises(DomainError) as caught:
        booking_refund(booking=booking, staff=staff, reason="again")
    assert caught.value.code == "not_refundable"
    assert CapacityAuditEntry.objects.filter(action="booking_refunded").count() == 1


def test_a_plain_member_can_neither_book_nor_cancel(alice, norllm):
    member = UserFactory(email="erik@uio.no")
    ProjectMember.objects.create(project=norllm, user=member, role=ProjectRole.MEMBER)
    with pytest.raises(DomainError) as caught:
        book(member, norllm)
    assert caught.value.code == "permission_denied"
    booking = book(alice, norllm)
    with pytest.raises(DomainError) as caught:
        booking_cancel(booking=booking, user=member)
    assert caught.value.code == "permission_denied"


def test_a_retry_with_the_same_idempotency_key_books_once(alice, norllm):
    first = book(alice, norllm, idempotency_key="run-42")
    again = book(alice, norllm, idempotency_key="run-42")
    assert again.pk == first.pk
    assert CapacityBooking.objects.count() == 1
    with pytest.raises(DomainError) as caught:
        book(alice, norllm, nodes=2, idempotency_key="run-42")
    assert caught.value.code == "idempotency_key_reused"


def test_a_suspended_project_cannot_book(alice, norllm):
    norllm.state = "suspended"
    norllm.save()
    with pytest.raises(DomainError) as caught:
        book(alice, norllm)
    assert caught.value.code == "project_suspended"
