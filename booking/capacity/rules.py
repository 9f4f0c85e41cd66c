"""The rules of a booking's window, as pure functions of the figures they are given.

A window is ``[starts_at, ends_at)`` in whole UTC hours, 1 hour to ``CAPACITY_BOOKING_MAX_HOURS``
long, starting at least ``CAPACITY_BOOKING_MIN_LEAD_HOURS`` from now and at most the booking
horizon of the project's tier (``CapacityPolicy``). Cancelling at least
``CAPACITY_FULL_REFUND_HOURS`` before the start releases the held hours in full.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from booking.models.capacity import HOUR
from stargate_portal.errors import Conflict, ValidationFailed


@dataclass(frozen=True)
class BookingHorizon:
    """The starts a project may book now: from ``earliest`` to ``latest``, both included."""

    earliest: datetime
    latest: datetime
    tier: int
    horizon_days: int


def hour_floor(moment: datetime) -> datetime:
    """The start of the UTC hour holding ``moment``."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_ceiling(moment: datetime) -> datetime:
    """The first whole UTC hour at or after ``moment``."""
    floor = hour_floor(moment)
    return floor if floor == moment else floor + HOUR


def is_hour_aligned(moment: datetime) -> bool:
    return hour_floor(moment) == moment


def hours_between(starts_at: datetime, ends_at: datetime) -> list[datetime]:
    """The hour starts of ``[starts_at, ends_at)`` (both hour-aligned)."""
    count = int((ends_at - starts_at) / HOUR)
    return [starts_at + i * HOUR for i in range(count)]


def max_booking_hours() -> int:
    return int(settings.CAPACITY_BOOKING_MAX_HOURS)


def earliest_start(now: datetime) -> datetime:
    """The first whole hour at least the shortest notice after ``now``."""
    return hour_ceiling(now + timedelta(hours=settings.CAPACITY_BOOKING_MIN_LEAD_HOURS))


def booking_horizon(*, now: datetime, tier: int, horizon_days: int) -> BookingHorizon:
    """The earliest and latest start a project of ``tier`` may book at ``now``."""
    latest = hour_floor(now + timedelta(days=horizon_days))
    return BookingHorizon(earliest_start(now), latest, tier, horizon_days)


def window_check(*, starts_at: datetime, ends_at: datetime, horizon: BookingHorizon) -> None:
    """Refuse a window that is not whole hours, too long, or outside the booking horizon."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValidationFailed.on_field("starts_at", _("Give the time with its time zone."))
    if not (is_hour_aligned(starts_at) and is_hour_aligned(ends_at)):
        raise ValidationFailed(
            _("A booking starts and ends on a whole hour (e.g. 14:00, not 14:30)."),
            code="not_aligned",
            details={"starts_at": [_("Start and end on a whole hour.")]},
        )
    if ends_at <= starts_at:
        raise ValidationFailed(
            _("A booking ends after it starts."),
            code="ends_before_start",
            details={"ends_at": [_("The end must be after the start.")]},
        )
    hours = int((ends_at - starts_at) / HOUR)
    if hours > max_booking_hours():
        raise ValidationFailed(
            _("A booking lasts at most %(h)s hours (%(d)s days); this one lasts %(n)s.")
            % {"h": max_booking_hours(), "d": max_booking_hours() // 24, "n": hours},
            code="too_long",
            details={"max_hours": max_booking_hours(), "hours": hours},
        )
    if not horizon.earliest <= starts_at <= horizon.latest:
        raise Conflict(
            _(
                "Bookings of your tier start between %(earliest)s and %(latest)s "
                "(at least %(lead)s h and at most %(days)s days ahead)."
            )
            % {
                "earliest": f"{horizon.earliest:%Y-%m-%d %H:%M} UTC",
                "latest": f"{horizon.latest:%Y-%m-%d %H:%M} UTC",
                "lead": settings.CAPACITY_BOOKING_MIN_LEAD_HOURS,
                "days": horizon.horizon_days,
            },
            code="outside_booking_horizon",
            details={
                "earliest_start": horizon.earliest.isoformat(),
                "latest_start": horizon.latest.isoformat(),
                "tier": horizon.tier,
                "horizon_days": horizon.horizon_days,
            },
        )


def refund_deadline(starts_at: datetime) -> datetime:
    """Cancelling at or before this moment releases the held hours in full."""
    return starts_at - timedelta(hours=settings.CAPACITY_FULL_REFUND_HOURS)


def full_refund_due(*, starts_at: datetime, now: datetime) -> bool:
    """A cancellation at ``now`` is at least the refund period before the start."""
    return now <= refund_deadline(starts_at)
