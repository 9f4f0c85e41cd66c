"""What jobs and the admission controller read of bookings (used once jobs run inside them).

- ``bookings_near``: the bookings the admission policy must know now (open, or starting within
  the longest walltime), in its own shape (``booking.scheduler.Booking``), so the adapter keeps
  general jobs off their nodes and starts booked jobs on them;
- ``booking_for_job``: whether a job may name a booking (same project and GPU type, fits its
  nodes, ends inside its window), with a specific code when not.
"""

from datetime import datetime, timedelta

from django.utils.translation import gettext as _

from booking.models import LIVE_BOOKING_STATES, CapacityBooking, GpuType, Project
from booking.scheduler import Booking
from stargate_portal.errors import Conflict, NotFound


def bookings_near(
    *, now: datetime, within: timedelta, gpu_type: GpuType | None = None
) -> list[Booking]:
    """Live bookings with nodes set aside that are open at ``now`` or start within ``within``
    (of one GPU type if given), as the admission policy reads them (epoch seconds, node
    indices). One indexed query."""
    rows = CapacityBooking.objects.filter(
        state__in=LIVE_BOOKING_STATES,
        starts_at__lt=now + within,
        ends_at__gt=now,
        node_indices__isnull=False,
    ).order_by("starts_at", "pk")
    if gpu_type is not None:
        rows = rows.filter(gpu_type=gpu_type)
    # Plain rows, not model instances: the admission cycle reads up to thousands every cycle.
    fields = ("pk", "project_id", "gpu_type__name", "starts_at", "ends_at", "node_indices")
    return [
        Booking(
            booking_id=pk,
            project_id=project_id,
            gpu_type=gpu_type_name,
            start=starts_at.timestamp(),
            end=ends_at.timestamp(),
            node_indices=tuple(int(node) for node in node_indices or ()),
        )
        for pk, project_id, gpu_type_name, starts_at, ends_at, node_indices in rows.values_list(
            *fields
        )
    ]


def booking_for_job(
    *,
    project: Project,
    booking_id: int,
    gpu_type: GpuType,
    gpus: int,
    walltime_minutes: int,
    now: datetime,
) -> CapacityBooking:
    """The booking a job of ``project`` may run in, or a refusal with a specific code."""
    booking = CapacityBooking.objects.filter(pk=booking_id, project=project).first()
    if booking is None:
        message = _("The project has no booking %(pk)s.") % {"pk": booking_id}
        raise NotFound(message, code="unknown_booking", details={"booking": [message]})
    if booking.state not in LIVE_BOOKING_STATES or booking.ends_at <= now:
        raise Conflict(_("This booking is over or cancelled."), code="booking_over")
    if booking.gpu_type_id != gpu_type.pk:
        raise Conflict(
            _("This booking is of %(gpu)s nodes.") % {"gpu": booking.gpu_type.name},
            code="booking_gpu_type_mismatch",
        )
    if gpus > booking.gpus:
        raise Conflict(
            _("This booking has %(n)s GPUs.") % {"n": booking.gpus}, code="booking_too_small"
        )
    if max(now, booking.starts_at) + timedelta(minutes=walltime_minutes) > booking.ends_at:
        raise Conflict(
            _("The job's walltime would run past the end of the booking."),
            code="walltime_past_booking",
        )
    return booking
