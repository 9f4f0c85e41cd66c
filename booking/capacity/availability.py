"""Free bookable nodes per hour, and the nearest free windows to a refused one.

Both read the per-hour counters (``CapacityHour``): one indexed range query whatever the
number of bookings stored, so a fortnight costs 336 rows, not a scan of the bookings.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext as _

from booking.capacity.rules import hours_between
from booking.models import CapacityHour, CapacityPolicy, GpuType
from booking.models.capacity import HOUR
from stargate_portal.errors import ValidationFailed


@dataclass(frozen=True)
class HourFree:
    """One hour of a GPU type: nodes booked and nodes still bookable."""

    starts_at: datetime
    booked_nodes: int
    free_nodes: int


@dataclass(frozen=True)
class Availability:
    gpu_type: str
    pool_nodes: int
    site_nodes: int
    hours: list[HourFree]


@dataclass(frozen=True)
class FreeWindow:
    """A window of the asked length in which the asked nodes are free in every hour."""

    starts_at: datetime
    ends_at: datetime

    def as_dict(self) -> dict[str, str]:
        return {"starts_at": self.starts_at.isoformat(), "ends_at": self.ends_at.isoformat()}


def booked_nodes_by_hour(gpu_type: GpuType, starts_at: datetime, ends_at: datetime) -> list[int]:
    """Nodes booked in each hour of ``[starts_at, ends_at)`` (0 where no row). One query."""
    rows = CapacityHour.objects.filter(
        gpu_type=gpu_type, hour__gte=starts_at, hour__lt=ends_at
    ).values_list("hour", "booked_nodes")
    booked = dict(rows)
    return [booked.get(hour, 0) for hour in hours_between(starts_at, ends_at)]


def availability(
    *, gpu_type: GpuType, policy: CapacityPolicy, starts_at: datetime, ends_at: datetime
) -> Availability:
    """Free bookable nodes per hour of ``[starts_at, ends_at)`` (hour-aligned)."""
    hours = int((ends_at - starts_at) / HOUR)
    if hours < 1 or hours > settings.CAPACITY_AVAILABILITY_MAX_HOURS:
        raise ValidationFailed(
            _("Ask for 1 to %(n)s hours at a time.")
            % {"n": settings.CAPACITY_AVAILABILITY_MAX_HOURS},
            code="range_too_long",
            details={"max_hours": settings.CAPACITY_AVAILABILITY_MAX_HOURS},
        )
    pool = policy.pool_nodes
    booked = booked_nodes_by_hour(gpu_type, starts_at, ends_at)
    return Availability(
        gpu_type=gpu_type.name,
        pool_nodes=pool,
        site_nodes=policy.site_nodes,
        hours=[
            HourFree(starts_at + i * HOUR, nodes, max(pool - nodes, 0))
            for i, nodes in enumerate(booked)
        ],
    )


def nearest_free_windows(
    *,
    gpu_type: GpuType,
    pool_nodes: int,
    node_count: int,
    hours: int,
    starts_at: datetime,
    earliest: datetime,
    latest: datetime,
) -> tuple[FreeWindow | None, FreeWindow | None]:
    """The latest free window starting before ``starts_at`` and the earliest one after it,
    of ``hours`` hours with ``node_count`` nodes free in each, starting within
    ``[earliest, latest]``. One query and one pass over the hours."""
    if latest < earliest:
        return None, None
    span_end = latest + hours * HOUR
    booked = booked_nodes_by_hour(gpu_type, earliest, span_end)
    run = free_run_lengths([pool_nodes - nodes >= node_count for nodes in booked])
    asked = int((starts_at - earliest) / HOUR)
    last = int((latest - earliest) / HOUR)

    def window(index: int) -> FreeWindow:
        start = earliest + index * HOUR
        return FreeWindow(start, start + hours * HOUR)

    before = next((window(i) for i in range(min(asked - 1, last), -1, -1) if run[i] >= hours), None)
    after = next((window(i) for i in range(max(asked + 1, 0), last + 1) if run[i] >= hours), None)
    return before, after


def free_run_lengths(free: Sequence[bool]) -> list[int]:
    """For each hour, how many consecutive free hours start there."""
    run = [0] * (len(free) + 1)
    for i in range(len(free) - 1, -1, -1):
        run[i] = run[i + 1] + 1 if free[i] else 0
    return run[:-1]
