"""The per-hour counters of booked nodes (``CapacityHour``): the one place that changes them.

Why rows locked in time order (and not a table lock or an exclusion constraint): a booking must
check *every* hour of its window against a pool staff may change at any time, so the bound is
not a constant a constraint could hold, and bookings of different hours or GPU types should not
wait for each other. A booking takes ``SELECT … FOR UPDATE`` on the rows of its hours in time
order, checks them and adds its nodes in one ``UPDATE``. Two bookings that share an hour are
thereby serialised on the first hour they share; as every transaction takes rows in the same
order, none waits in a cycle. The counter cannot go below zero (a ``CheckConstraint``).

The rows are made ahead, outside any booking's transaction (``hours_prepare``, Celery beat, up
to the longest horizon plus the longest booking); a booking whose rows are missing (a new GPU
type, a longer horizon) makes them (``hours_make``, ``INSERT … ON CONFLICT DO NOTHING``) after
its transaction rolled back, holding no lock, and tries once more.
"""

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import F, Max

from booking.capacity.rules import hour_floor, hours_between, max_booking_hours
from booking.models import CapacityHour, CapacityPolicy, GpuType
from booking.models.capacity import HOUR


class HoursMissing(Exception):
    """Some counter rows of the window do not exist yet (make them, outside the transaction)."""


def hours_lock(
    gpu_type: GpuType, starts_at: datetime, ends_at: datetime
) -> list[tuple[datetime, int]]:
    """``(hour, booked nodes)`` of ``[starts_at, ends_at)``, locked in time order. Must run
    inside a transaction; raises ``HoursMissing`` when rows are missing."""
    rows = list(
        CapacityHour.objects.select_for_update()
        .filter(gpu_type=gpu_type, hour__gte=starts_at, hour__lt=ends_at)
        .order_by("hour")
        .values_list("hour", "booked_nodes")
    )
    if len(rows) < int((ends_at - starts_at) / HOUR):
        raise HoursMissing
    return rows


_TAKE = """
UPDATE booking_capacityhour
SET booked_nodes = booked_nodes + %(nodes)s
WHERE id IN (
    SELECT id FROM booking_capacityhour
    WHERE gpu_type_id = %(gpu_type)s AND hour >= %(start)s AND hour < %(end)s
    ORDER BY hour
    FOR UPDATE
) AND booked_nodes + %(nodes)s <= %(pool)s
"""


def hours_take(
    gpu_type: GpuType, starts_at: datetime, ends_at: datetime, nodes: int, pool_nodes: int
) -> bool:
    """Add ``nodes`` to every hour of the window where each stays within ``pool_nodes``: the
    rows locked in time order and each checked against its latest value as it is updated, in
    one statement on PostgreSQL (a booking's hot path). True when every hour was taken; False
    when some hour is short or missing, and then the caller must roll the transaction back
    (some hours may have been added) and ask ``hours_short`` why."""
    hours = int((ends_at - starts_at) / HOUR)
    if connection.vendor == "postgresql":
        params: dict[str, int | datetime] = {
            "gpu_type": int(gpu_type.pk),
            "start": starts_at,
            "end": ends_at,
            "nodes": nodes,
            "pool": pool_nodes,
        }
        with connection.cursor() as cursor:
            cursor.execute(_TAKE, params)
            return bool(cursor.rowcount == hours)
    try:
        rows = hours_lock(gpu_type, starts_at, ends_at)
    except HoursMissing:
        return False
    if any(booked + nodes > pool_nodes for _hour, booked in rows):
        return False
    hours_add(gpu_type, starts_at, ends_at, nodes)
    return True


def hours_short(
    gpu_type: GpuType, starts_at: datetime, ends_at: datetime, nodes: int, pool_nodes: int
) -> list[tuple[datetime, int]]:
    """``(hour, free nodes)`` of the hours of the window without room for ``nodes`` (read, not
    locked: why a booking was refused); raises ``HoursMissing`` when rows are missing."""
    rows = list(
        CapacityHour.objects.filter(gpu_type=gpu_type, hour__gte=starts_at, hour__lt=ends_at)
        .order_by("hour")
        .values_list("hour", "booked_nodes")
    )
    if len(rows) < int((ends_at - starts_at) / HOUR):
        raise HoursMissing
    return [
        (hour, max(pool_nodes - booked, 0)) for hour, booked in rows if booked + nodes > pool_nodes
    ]


def hours_add(gpu_type: GpuType, starts_at: datetime, ends_at: datetime, nodes: int) -> int:
    """Add ``nodes`` (negative: take them back) to every hour of the window; rows locked by
    ``hours_lock`` in this transaction. One statement."""
    return CapacityHour.objects.filter(
        gpu_type=gpu_type, hour__gte=starts_at, hour__lt=ends_at
    ).update(booked_nodes=F("booked_nodes") + nodes)


def hours_make(gpu_type: GpuType, starts_at: datetime, ends_at: datetime) -> None:
    """Make the missing counter rows of ``[starts_at, ends_at)`` (zero nodes booked)."""
    CapacityHour.objects.bulk_create(
        [CapacityHour(gpu_type=gpu_type, hour=hour) for hour in hours_between(starts_at, ends_at)],
        ignore_conflicts=True,
        batch_size=2000,
    )


def hours_prepare(*, now: datetime) -> int:
    """Make every GPU type's counter rows up to its longest horizon plus the longest booking,
    from the last row made on (or now). Returns how many hours were added."""
    made = 0
    latest = dict(
        CapacityHour.objects.values_list("gpu_type_id").annotate(last=Max("hour")).order_by()
    )
    for policy in CapacityPolicy.objects.select_related("gpu_type"):
        until = hour_floor(now) + timedelta(
            days=max(policy.horizons().values()), hours=max_booking_hours() + 1
        )
        last = latest.get(policy.gpu_type_id)
        start = max(hour_floor(now), last + HOUR) if last else hour_floor(now)
        if start < until:
            hours_make(policy.gpu_type, start, until)
            made += int((until - start) / HOUR)
    return made
