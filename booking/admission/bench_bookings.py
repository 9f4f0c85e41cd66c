"""Capacity bookings in the admission benchmark: 1,000 active bookings written into the
benchmark site, with a job waiting in each open one.

Half of the bookings are open (started an hour ago), half start within the next two days; all
have their nodes set aside (as ``booking.capacity.reservations`` does ahead of the start), so
every cycle reads them (``booking.admission.bookings``) and keeps their nodes out of the general
pool. Nodes are disjoint across bookings and about one in six of the site's nodes is booked.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from booking.admission.bench_site import SCRIPT, BenchSite, job_events_create
from booking.capacity.counters import hours_add, hours_make
from booking.models import BookingState, CapacityBooking, GpuType, Job

NODES_PER_BOOKING = (1, 1, 2, 2, 4, 2)


def bookings_add(site: BenchSite, *, count: int) -> int:
    """Write ``count`` bookings and one pending job in each open one; returns the jobs made."""
    rng, now = site.rng, site.now
    hour = now.replace(minute=0, second=0, microsecond=0)
    names = list(site.nodes)
    unbooked = {name: rng.sample(range(nodes), nodes) for name, nodes in site.nodes.items()}
    bookings = []
    for index in range(count):
        name = rng.choices(names, weights=[site.nodes[n] for n in names])[0]
        size = min(rng.choice(NODES_PER_BOOKING), len(unbooked[name]) // 4)
        if size == 0:
            continue  # at most about a quarter of a type's nodes are bookable
        nodes = [unbooked[name].pop() for _ in range(size)]
        is_open = index % 2 == 0
        start = hour - timedelta(hours=1) if is_open else hour + timedelta(hours=rng.randint(1, 48))
        hours = rng.randint(24, 72)
        bookings.append(
            CapacityBooking(
                project_id=site.pick_project(),
                gpu_type_id=site.type_ids[name],
                name=f"bench booking {index}",
                node_count=size,
                gpus_per_node=8,
                starts_at=start,
                ends_at=start + timedelta(hours=hours),
                gpu_hours=size * 8 * hours,
                state=BookingState.ACTIVE if is_open else BookingState.CONFIRMED,
                created_by_id=site.user_id,
                charged_at=now if is_open else None,
                node_indices=sorted(nodes),
                reserved_at=now,
            )
        )
    with transaction.atomic():
        created = CapacityBooking.objects.bulk_create(bookings, batch_size=1_000)
        _count_booked_hours(created)
        jobs = [_booked_job(site, booking, now) for booking in created if booking.is_open(now)]
        Job.objects.bulk_create(jobs, batch_size=1_000)
        job_events_create([job.pk for job in jobs], "", "pending", "Submitted.", now)
    return len(jobs)


def _count_booked_hours(bookings: list[CapacityBooking]) -> None:
    """The per-hour counters of booked nodes, as booking them made them: a booking of the kept
    site is one its owners and staff can cancel (which takes its nodes back hour by hour)."""
    types = GpuType.objects.in_bulk({booking.gpu_type_id for booking in bookings})
    for booking in bookings:
        gpu_type = types[booking.gpu_type_id]
        hours_make(gpu_type, booking.starts_at, booking.ends_at)
        hours_add(gpu_type, booking.starts_at, booking.ends_at, booking.node_count)


def _booked_job(site: BenchSite, booking: CapacityBooking, now: datetime) -> Job:
    site.made += 1
    return Job(
        project_id=booking.project_id,
        submitted_by_id=site.user_id,
        gpu_type_id=booking.gpu_type_id,
        gpus=booking.gpus,
        walltime_minutes=60 * site.rng.choice((1, 2, 4, 8)),
        name=f"bench-{site.made}",
        script=SCRIPT,
        state="pending",
        reason="priority",
        submitted_at=now,
        booking=booking,
    )
