"""Setting a booking's nodes aside on the cluster, and giving them back.

``booking_reserve`` asks the cluster backend (``create_reservation``) for the booking's nodes
``CAPACITY_RESERVATION_LEAD_HOURS`` before its start (so the cluster starts no job on them that
would still run when the window opens) and stores the node indices; ``booking_unreserve`` drops
the reservation of a cancelled or finished booking. Both hold the booking's row lock while they
talk to the cluster, so two workers never reserve one booking twice; the reservation is named
after the booking (``reservation_name``) and dropped before it is made again, so a crash
between the cluster's answer and the commit leaves nothing behind.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from booking.cluster.base import BackendUnavailable
from booking.cluster.registry import cluster_backend
from booking.models import LIVE_BOOKING_STATES, BookingState, CapacityBooking

logger = logging.getLogger(__name__)
BATCH = 200


def reservation_lead() -> timedelta:
    return timedelta(hours=settings.CAPACITY_RESERVATION_LEAD_HOURS)


def booking_reserve(*, booking_id: int, now: datetime) -> tuple[int, ...] | None:
    """Reserve the booking's nodes when its start is near; the node indices, or None when
    there is nothing to do (not due yet, already reserved, cancelled, over)."""
    backend = cluster_backend()
    with transaction.atomic():
        booking = (
            CapacityBooking.objects.select_for_update(of=("self",))
            .select_related("gpu_type")
            .filter(pk=booking_id, state__in=LIVE_BOOKING_STATES, node_indices__isnull=True)
            .filter(starts_at__lte=now + reservation_lead(), ends_at__gt=now)
            .first()
        )
        if booking is None:
            return None
        backend.delete_reservation(booking.reservation_name)
        try:
            nodes = backend.create_reservation(
                name=booking.reservation_name,
                account=str(booking.project_id),
                gpu_type=booking.gpu_type.name,
                nodes=booking.node_count,
                starts_at=booking.starts_at,
                ends_at=booking.ends_at,
            )
        except ValueError as refused:
            logger.error("booking %s: the cluster refused the reservation: %s", booking.pk, refused)
            return None
        booking.node_indices = list(nodes)
        booking.reserved_at = now
        booking.save(update_fields=["node_indices", "reserved_at"])
    return tuple(nodes)


def booking_unreserve(*, booking_id: int, now: datetime) -> bool:
    """Drop the reservation of a cancelled or finished booking (once)."""
    backend = cluster_backend()
    with transaction.atomic():
        booking = (
            CapacityBooking.objects.select_for_update(of=("self",))
            .filter(pk=booking_id, unreserved_at__isnull=True)
            .exclude(state__in=LIVE_BOOKING_STATES)
            .first()
        )
        if booking is None:
            return False
        try:
            backend.delete_reservation(booking.reservation_name)
        except ValueError as refused:
            # Slurm keeps a reservation while a job stopped in it is still completing: the
            # next run drops it.
            logger.warning("booking %s: reservation not dropped yet: %s", booking.pk, refused)
            return False
        booking.unreserved_at = now
        booking.save(update_fields=["unreserved_at"])
    return True


def reservations_sync(*, now: datetime) -> dict[str, int]:
    """Reserve the bookings whose start is near, drop those cancelled or over (batches)."""
    due = CapacityBooking.objects.filter(
        state__in=LIVE_BOOKING_STATES,
        node_indices__isnull=True,
        starts_at__lte=now + reservation_lead(),
        ends_at__gt=now,
    ).order_by("starts_at", "pk")
    gone = CapacityBooking.objects.filter(
        state__in=(BookingState.CANCELLED, BookingState.COMPLETED),
        reserved_at__isnull=False,
        unreserved_at__isnull=True,
    ).order_by("pk")
    reserved = dropped = 0
    try:
        for pk in list(due.values_list("pk", flat=True)[:BATCH]):
            reserved += booking_reserve(booking_id=pk, now=now) is not None
        for pk in list(gone.values_list("pk", flat=True)[:BATCH]):
            dropped += booking_unreserve(booking_id=pk, now=now)
    except BackendUnavailable:
        logger.warning("the cluster is unavailable; reservations wait for the next run")
    return {"reserved": reserved, "dropped": dropped}
