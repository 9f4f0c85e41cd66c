"""The per-hour counters of booked nodes: the one place that changes them.

Why rows locked in time order (and not a table lock or an exclusion constraint): a booking must
check *every* hour of its window against a pool staff may change at any time, so the bound is
not a constant a constraint could hold, and bookings of different hours or GPU types should not
wait for each other. Each booking first makes the missing hour rows (``INSERT … ON CONFLICT DO
NOTHING``, in time order), then takes ``SELECT … FOR UPDATE`` on its hours in time order, checks
them and adds its nodes. Two bookings that share an hour are thereby serialised on the first
hour they share; as every transaction takes rows in the same order, none waits in a cycle. The
counter cannot go below zero (a ``CheckConstraint``).
"""

from datetime import datetime

from django.db.models import F

from booking.capacity.rules import hours_between
from booking.models import CapacityHour, GpuType


def hours_lock(
    gpu_type: GpuType, starts_at: datetime, ends_at: datetime
) -> list[tuple[datetime, int]]:
    """``(hour, booked nodes)`` of ``[starts_at, ends_at)``, the rows made if missing and
    locked in time order. Must run inside a transaction."""
    CapacityHour.objects.bulk_create(
        [CapacityHour(gpu_type=gpu_type, hour=hour) for hour in hours_between(starts_at, ends_at)],
        ignore_conflicts=True,
    )
    return list(
        CapacityHour.objects.select_for_update()
        .filter(gpu_type=gpu_type, hour__gte=starts_at, hour__lt=ends_at)
        .order_by("hour")
        .values_list("hour", "booked_nodes")
    )


def hours_add(gpu_type: GpuType, starts_at: datetime, ends_at: datetime, nodes: int) -> int:
    """Add ``nodes`` (negative: take them back) to every hour of the window; rows locked by
    ``hours_lock`` in this transaction. One statement."""
    return CapacityHour.objects.filter(
        gpu_type=gpu_type, hour__gte=starts_at, hour__lt=ends_at
    ).update(booked_nodes=F("booked_nodes") + nodes)
