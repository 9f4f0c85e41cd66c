"""A project's bookings as an iCalendar feed (RFC 5545, written with ``icalendar``)."""

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from icalendar import Calendar, Event

from booking.capacity.rules import refund_deadline
from booking.models import BookingState, CapacityBooking, Project

PRODID = "-//Stargate Portal//Capacity bookings//EN"


def booking_event(booking: CapacityBooking, *, now: datetime) -> Event:
    deadline = refund_deadline(booking.starts_at)
    event = Event()
    event.add("uid", f"{booking.reservation_name}@stargate-portal")
    event.add("dtstamp", now)
    event.add("dtstart", booking.starts_at)
    event.add("dtend", booking.ends_at)
    event.add("summary", booking_summary(booking))
    event.add(
        "description",
        "\n".join(
            [
                f"{booking.node_count} x {booking.gpu_type.name} nodes "
                f"({booking.gpus} GPUs) for {booking.project.name}",
                f"{booking.gpu_hours:,.0f} GPU-hours",
                f"Full refund if cancelled by {deadline:%Y-%m-%d %H:%M} UTC",
            ]
        ),
    )
    event.add("url", f"{settings.SITE_URL}{reverse('capacity:booking_detail', args=[booking.pk])}")
    event.add("status", "CANCELLED" if booking.state == BookingState.CANCELLED else "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


def booking_summary(booking: CapacityBooking) -> str:
    label = f"{booking.node_count} x {booking.gpu_type.name} nodes"
    return f"{booking.name} ({label})" if booking.name else f"{label}: {booking.project.name}"


def project_calendar(
    project: Project, bookings: Iterable[CapacityBooking], *, now: datetime
) -> bytes:
    """The calendar of ``project``'s bookings."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Stargate bookings: {project.name}")
    calendar.add("method", "PUBLISH")
    for booking in bookings:
        calendar.add_component(booking_event(booking, now=now))
    return bytes(calendar.to_ical())
