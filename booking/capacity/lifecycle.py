"""A booking's window starts (its hours are charged) and ends. Run by Celery beat
(``booking.capacity.tasks.bookings_advance``); each booking is its own transaction and running
it twice changes nothing the second time (the state is checked under the row lock and the
ledger keys are the booking's)."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from booking.ledger.services import ledger_charge, ledger_release
from booking.models import ACTIVE_STATES, LIVE_BOOKING_STATES, BookingState, CapacityBooking
from booking.notifications.services import notify
from stargate_portal.errors import DomainError

logger = logging.getLogger(__name__)
BATCH = 500


def booking_start(*, booking_id: int, now: datetime) -> bool:
    """Charge a confirmed booking whose window has started: release its hold, charge the same
    hours. False when there is nothing to do (already started, cancelled, not due, or the
    ledger refused: then ``charge_problem`` says why and the next run tries again)."""
    with transaction.atomic():
        booking = (
            CapacityBooking.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("project", "gpu_type")
            .filter(pk=booking_id, state=BookingState.CONFIRMED, starts_at__lte=now)
            .first()
        )
        if booking is None:
            return False
        label = _("Booking %(pk)s") % {"pk": booking.pk}
        try:
            with transaction.atomic():
                ledger_release(
                    project=booking.project,
                    gpu_type=booking.gpu_type,
                    gpu_hours=booking.gpu_hours,
                    key=f"{booking.ledger_key_prefix}-release",
                    reason=label,
                )
                ledger_charge(
                    project=booking.project,
                    gpu_type=booking.gpu_type,
                    gpu_hours=booking.gpu_hours,
                    key=f"{booking.ledger_key_prefix}-charge",
                    reason=_("%(label)s: the window started") % {"label": label},
                )
        except DomainError as refused:
            logger.warning("booking %s not charged at its start: %s", booking.pk, refused.code)
            if booking.charge_problem != refused.code:
                booking.charge_problem = refused.code
                booking.save(update_fields=["charge_problem"])
            return False
        booking.state = BookingState.ACTIVE
        booking.charged_at = now
        booking.charge_problem = ""
        booking.save(update_fields=["state", "charged_at", "charge_problem"])
    return True


def bookings_start_due(*, now: datetime) -> int:
    """Charge every confirmed booking whose window has started (a batch per run)."""
    due = CapacityBooking.objects.filter(
        state=BookingState.CONFIRMED, starts_at__lte=now, ends_at__gt=now
    ).order_by("starts_at", "pk")
    ids = list(due.values_list("pk", flat=True)[:BATCH])
    return sum(booking_start(booking_id=pk, now=now) for pk in ids)


def bookings_notify_ending(*, now: datetime) -> int:
    """Tell each live booking's project members, once, that the window ends within the hour
    (``CAPACITY_ENDING_NOTICE_MINUTES``) and that jobs still running then are stopped."""
    notice = timedelta(minutes=settings.CAPACITY_ENDING_NOTICE_MINUTES)
    due = CapacityBooking.objects.filter(
        state__in=LIVE_BOOKING_STATES,
        ends_at__gt=now,
        ends_at__lte=now + notice,
        ending_notified_at__isnull=True,
    ).order_by("ends_at", "pk")
    ids = list(due.values_list("pk", flat=True)[:BATCH])
    return sum(_booking_notify_ending(booking_id=pk, now=now) for pk in ids)


def _booking_notify_ending(*, booking_id: int, now: datetime) -> bool:
    with transaction.atomic():
        booking = (
            CapacityBooking.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("project", "gpu_type")
            .filter(pk=booking_id, ending_notified_at__isnull=True)
            .first()
        )
        if booking is None:
            return False
        running = booking.jobs.filter(state__in=ACTIVE_STATES).count()
        members = User.objects.filter(project_memberships__project=booking.project_id)
        facts = {
            "pk": booking.pk,
            "project": booking.project.name,
            "end": f"{booking.ends_at:%Y-%m-%d %H:%M} UTC",
            "n": running,
        }
        notify(
            users=members,
            subject=_("Booking %(pk)s of %(project)s ends at %(end)s") % facts,
            body=_(
                "The capacity booking %(pk)s of %(project)s ends at %(end)s. Jobs still "
                "running in it then are stopped, as the cluster's reservation ends; "
                "%(n)s are running now. Save checkpoints before the end."
            )
            % facts,
            url=reverse("capacity:booking_detail", args=[booking.pk]),
        )
        booking.ending_notified_at = now
        booking.save(update_fields=["ending_notified_at"])
    return True


def bookings_finish_due(*, now: datetime) -> int:
    """Active bookings whose window is over are completed. One statement."""
    return CapacityBooking.objects.filter(state=BookingState.ACTIVE, ends_at__lte=now).update(
        state=BookingState.COMPLETED
    )
