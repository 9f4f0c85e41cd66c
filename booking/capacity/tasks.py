"""Celery tasks of capacity bookings: thin, take ids, load fresh state, safe to run twice.

Each task imports its service inside the body, so the services can queue these tasks.
"""

from celery import shared_task


@shared_task(ignore_result=True)
def bookings_advance() -> dict[str, int]:
    """Beat: charge the bookings whose window started, tell projects an hour before the end,
    stop the jobs still running at the end, complete the bookings that ended, make the counter
    rows of the hours coming into the horizon, keep the cluster's reservations in step."""
    from booking.capacity.clock import booking_now
    from booking.capacity.counters import hours_prepare
    from booking.capacity.lifecycle import (
        bookings_finish_due,
        bookings_notify_ending,
        bookings_start_due,
    )
    from booking.capacity.reservations import reservations_sync
    from booking.capacity.signals import booked_jobs_due
    from booking.models import CapacityBooking

    now = booking_now()
    started = bookings_start_due(now=now)
    notified = bookings_notify_ending(now=now)
    # Before the reservations are dropped: the jobs are stopped while their nodes are theirs.
    answers = booked_jobs_due.send(sender=CapacityBooking, now=now)
    finished = bookings_finish_due(now=now)
    hours = hours_prepare(now=now)
    return {
        "started": started,
        "ending_notified": notified,
        "jobs_stopped": sum(int(stopped or 0) for _receiver, stopped in answers),
        "finished": finished,
        "hours_prepared": hours,
        **reservations_sync(now=now),
    }


@shared_task(ignore_result=True)
def booking_reserve(booking_id: int) -> bool:
    """Set the booking's nodes aside on the cluster, if its start is near."""
    from booking.capacity.clock import booking_now
    from booking.capacity.reservations import booking_reserve as reserve

    return reserve(booking_id=booking_id, now=booking_now()) is not None


@shared_task(ignore_result=True)
def booking_unreserve(booking_id: int) -> bool:
    """Drop the reservation of a cancelled booking."""
    from booking.capacity.clock import booking_now
    from booking.capacity.reservations import booking_unreserve as unreserve

    return unreserve(booking_id=booking_id, now=booking_now())


@shared_task(ignore_result=True)
def capacity_site_nodes_refresh() -> int:
    """Follow the node counts the cluster reports (the bookable pool is a share of them)."""
    from booking.capacity.policies import site_nodes_refresh

    return site_nodes_refresh()
