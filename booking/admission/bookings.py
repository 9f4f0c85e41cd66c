"""Capacity bookings in the admission cycle: the bookings the policy must know now, and their
nodes kept out of the general pool of the cached site.

A booking enters the cycle once the cluster has set its nodes aside
(``booking.capacity.reservations``, the longest walltime plus an hour ahead of its start), so
no general job started on those nodes is still running when the window opens, and it leaves
when its window ends. The booked jobs themselves start only inside the window, on those nodes
(``booking.scheduler.policy``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from booking.admission.snapshot import Site
from booking.capacity.jobs import bookings_near
from booking.capacity.reservations import reservation_lead
from booking.scheduler import Booking


def site_bookings(site: Site, *, now: datetime) -> dict[int, Booking]:
    """The bookings near ``now`` (one query), their nodes taken out of the site's general pool.

    The pool is re-bucketed only when the set of booked nodes of a type changed (a booking
    entered or left the horizon), so 1,000 steady bookings cost no re-bucketing per cycle.
    """
    bookings = bookings_near(now=now, within=reservation_lead())
    booked: dict[str, set[int]] = defaultdict(set)
    for booking in bookings:
        booked[booking.gpu_type].update(booking.node_indices)
    for name, capacity in site.capacity.items():
        nodes = site.nodes.get(name)
        down = nodes.unavailable if nodes is not None else frozenset()
        wanted = down | {node for node in booked.get(name, ()) if node < capacity.pool.node_count}
        if capacity.pool.excluded != wanted:
            capacity.pool.set_excluded(wanted)
    return {booking.booking_id: booking for booking in bookings}
