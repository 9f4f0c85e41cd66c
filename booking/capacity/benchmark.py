"""Capacity bookings on PostgreSQL at full size: availability reads and concurrent bookings.

Run ``DATABASE_URL=postgres://… python -m booking.capacity.benchmark [--bookings 100000]``.
It creates a scratch database ``<name>_capacity_bench`` next to the one DATABASE_URL names
(dropped at the end unless ``--keep``), migrates it and fills it with bulk inserts: 12,500
nodes over H100/H200/GB200 (a quarter bookable), 2,000 projects with allocations and grants,
and ``--bookings`` bookings from 44 weeks ago to 8 weeks ahead (1-8 nodes, 1-48 hours, never
over the pool) with their per-hour counters and ledger entries. Then it times:

- *availability*: ``GET /api/v1/capacity/availability/`` for one GPU type over 14 days (336
  hours) at a random start, through the whole API view in process (authentication, the
  policy, the counters, serialisation), and the read alone (``availability``);
- *create*: ``booking_create`` for random projects, GPU types and windows (the project and
  user already loaded, as a request has them), every call timed, refusals too: by one client
  alone; by ``--clients`` processes at once (as web workers are, each with its own database
  connection) each sending a booking every second on average (people at their keyboards); and
  by the same processes as fast as they can (saturation). Each process first makes two
  untimed bookings, one of them starting within the reservation lead (it queues the Celery
  task that reserves the nodes), as a web worker that has served requests has: the first
  calls of a fresh process also pay for imports, Django's caches and Celery's producer (tens
  of milliseconds each); they are printed apart as "cold".
"""

from __future__ import annotations

import argparse
import contextlib
import math
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from stargate_portal.scratch_databases import postgres_url_or_skip, scratch_django_database

SITE = {"H100": 6_000, "H200": 4_000, "GB200": 2_500}
WARM_UP_STARTS = (3, 20 * 24)
"""Hours ahead of the warm-up bookings (plus the client's number): one within the reservation
lead (its Celery task is queued at commit), one 20 days ahead (within every tier's horizon)."""
COLD = "cold"
PROJECTS = 2_000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bookings", type=int, default=100_000, help="bookings stored")
    parser.add_argument("--requests", type=int, default=500, help="availability requests")
    parser.add_argument("--clients", type=int, default=20, help="concurrent booking clients")
    parser.add_argument("--per-client", type=int, default=25, help="bookings each client makes")
    parser.add_argument("--seed", type=int, default=11, help="random seed")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    url = postgres_url_or_skip("capacity booking benchmark")
    if url is None:
        return 0
    with scratch_django_database(url, "capacity_bench", keep=args.keep):
        for line in run(
            bookings=args.bookings,
            requests=args.requests,
            clients=args.clients,
            per_client=args.per_client,
            seed=args.seed,
        ):
            print(line, flush=True)
    return 0


def run(*, bookings: int, requests: int, clients: int, per_client: int, seed: int) -> list[str]:
    """Build the site in the current database, time the reads and the writes."""
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    chooser = random.Random(seed)
    started = time.perf_counter()
    site = build_site(bookings=bookings, chooser=chooser)
    lines = [
        f"site: {sum(SITE.values()):,} nodes, {PROJECTS:,} projects, "
        f"{site.bookings:,} bookings stored ({site.hour_rows:,} hour counters, "
        f"{site.ledger_entries:,} ledger entries)",
        f"database build: {time.perf_counter() - started:.1f} s",
    ]
    lines += _time_availability(site, requests, chooser)
    lines += _time_creates(site, 1, per_client * 4, seed + 1, pace_ms=0)
    lines += _time_creates(site, clients, per_client, seed + 2, pace_ms=1000)
    lines += _time_creates(site, clients, per_client, seed, pace_ms=0)
    return lines


# -- the site --------------------------------------------------------------------------------


@dataclass
class Site:
    now: datetime
    staff_id: int
    projects: list[tuple[int, int]]  # (project id, PI user id)
    bookings: int = 0
    hour_rows: int = 0
    ledger_entries: int = 0


def build_site(*, bookings: int, chooser: random.Random) -> Site:
    """Bulk-insert the GPU types, nodes, projects and bookings (counters and ledger too)."""
    from django.utils import timezone

    from accounts.models import Organisation, User
    from booking.capacity.policies import policy_for
    from booking.cluster.simulator.backend import SimulatorBackend
    from booking.models import (
        Allocation,
        GpuType,
        LedgerEntry,
        Project,
        ProjectMember,
        ProjectRole,
    )

    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    backend = SimulatorBackend()
    types = {}
    for name, nodes in SITE.items():
        types[name] = GpuType.objects.create(name=name, memory_gb=141, power_watts=700)
        backend.set_partition(types[name], nodes=nodes)
        policy_for(types[name])
    staff = User.objects.create(email="staff@bench.example", is_staff=True)
    organisation = Organisation.objects.create(
        name="Bench University",
        kind="university",
        country="NO",
        verification_state="verified",
        verification_decided_at=now,
        verification_reason="Benchmark.",
    )
    users = User.objects.bulk_create(
        [User(email=f"pi{n}@bench.example") for n in range(PROJECTS)], batch_size=1000
    )
    projects = Project.objects.bulk_create(
        [Project(name=f"Project {n}", organisation=organisation) for n in range(PROJECTS)],
        batch_size=1000,
    )
    ProjectMember.objects.bulk_create(
        [
            ProjectMember(project=p, user=u, role=ProjectRole.PI)
            for p, u in zip(projects, users, strict=True)
        ],
        batch_size=1000,
    )
    Allocation.objects.bulk_create(
        [
            Allocation(project=p, gpu_type=t, starts_on=date(2020, 1, 1), ends_on=date(2099, 1, 1))
            for p in projects
            for t in types.values()
        ],
        batch_size=2000,
    )
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                project=p,
                gpu_type=t,
                kind="grant",
                gpu_hours=Decimal(10_000_000),
                idempotency_key=f"grant-{p.pk}-{t.pk}",
            )
            for p in projects
            for t in types.values()
        ],
        batch_size=2000,
    )
    site = Site(
        now=now,
        staff_id=staff.pk,
        projects=[(p.pk, u.pk) for p, u in zip(projects, users, strict=True)],
    )
    _store_bookings(site, types, bookings, chooser)
    from django.db import connection

    # Settle the freshly loaded tables (visibility map, statistics) before timing anything,
    # so the figures are not those of autovacuum catching up.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return site


def _store_bookings(site: Site, types: dict[str, Any], count: int, chooser: random.Random) -> None:
    from booking.capacity.counters import hours_prepare
    from booking.capacity.services.bookings import booking_gpu_hours
    from booking.models import BookingState, CapacityBooking, CapacityHour, LedgerEntry

    first = site.now - timedelta(weeks=44)
    span_hours = 52 * 7 * 24
    pools = {name: math.floor(nodes * 0.25) for name, nodes in SITE.items()}
    booked: dict[str, list[int]] = {name: [0] * (span_hours + 80) for name in SITE}
    rows: list[CapacityBooking] = []
    entries: list[LedgerEntry] = []
    names, weights = list(SITE), list(SITE.values())
    attempts = 0
    while len(rows) < count and attempts < 20 * count:
        attempts += 1
        name = chooser.choices(names, weights)[0]
        start = chooser.randrange(span_hours)
        hours = chooser.randint(1, 48)
        nodes = chooser.randint(1, 8)
        counts = booked[name]
        if max(counts[start : start + hours]) + nodes > pools[name]:
            continue
        for h in range(start, start + hours):
            counts[h] += nodes
        starts_at = first + timedelta(hours=start)
        ends_at = starts_at + timedelta(hours=hours)
        project_id, user_id = chooser.choice(site.projects)
        cost = booking_gpu_hours(node_count=nodes, gpus_per_node=8, hours=hours)
        state = (
            BookingState.COMPLETED
            if ends_at <= site.now
            else BookingState.ACTIVE
            if starts_at <= site.now
            else BookingState.CONFIRMED
        )
        booking = CapacityBooking(
            project_id=project_id,
            gpu_type=types[name],
            node_count=nodes,
            gpus_per_node=8,
            starts_at=starts_at,
            ends_at=ends_at,
            gpu_hours=cost,
            state=state,
            created_by_id=user_id,
            charged_at=starts_at if state != BookingState.CONFIRMED else None,
        )
        rows.append(booking)
        kinds = ["hold"] if state == BookingState.CONFIRMED else ["hold", "release", "charge"]
        entries.extend(
            LedgerEntry(
                project_id=project_id,
                gpu_type=types[name],
                kind=kind,
                gpu_hours=-cost if kind == "release" else cost,
                idempotency_key=f"{booking.ledger_key_prefix}-{kind}",
            )
            for kind in kinds
        )
    CapacityBooking.objects.bulk_create(rows, batch_size=5000)
    LedgerEntry.objects.bulk_create(entries, batch_size=5000)
    hour_rows = [
        CapacityHour(gpu_type=types[name], hour=first + timedelta(hours=h), booked_nodes=n)
        for name, counts in booked.items()
        for h, n in enumerate(counts)
        if n
    ]
    CapacityHour.objects.bulk_create(hour_rows, batch_size=5000)
    hours_prepare(now=site.now)  # as Celery beat does: the rows of the hours ahead exist
    site.bookings, site.ledger_entries = len(rows), len(entries)
    site.hour_rows = CapacityHour.objects.count()


# -- availability ----------------------------------------------------------------------------


def _time_availability(site: Site, requests: int, chooser: random.Random) -> list[str]:
    from rest_framework.test import APIClient

    from accounts.models import User
    from booking.capacity.availability import availability
    from booking.capacity.policies import policy_for
    from booking.models import GpuType

    client = APIClient()
    client.force_authenticate(User.objects.get(pk=site.projects[0][1]))
    gpu_type = GpuType.objects.get(name="H100")
    api_ms, read_ms = [], []
    for _ in range(requests):
        start = site.now + timedelta(hours=chooser.randrange(-24 * 7, 8 * 7 * 24))
        end = start + timedelta(days=14)
        began = time.perf_counter()
        response = client.get(
            "/api/v1/capacity/availability/",
            {"gpu_type": "H100", "start": start.isoformat(), "end": end.isoformat()},
            secure=True,  # production settings redirect plain HTTP
        )
        api_ms.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200 or len(response.json()["hours"]) != 336:
            raise RuntimeError(f"availability failed: {response.status_code}")
        began = time.perf_counter()
        availability(gpu_type=gpu_type, policy=policy_for(gpu_type), starts_at=start, ends_at=end)
        read_ms.append((time.perf_counter() - began) * 1000)
    return [
        f"availability, one GPU type x 14 days (336 hours), {requests} requests:",
        f"  API request p50: {_pct(api_ms, 50):.1f} ms, p99: {_pct(api_ms, 99):.1f} ms, "
        f"max: {max(api_ms):.1f} ms",
        f"  read alone p50: {_pct(read_ms, 50):.1f} ms, p99: {_pct(read_ms, 99):.1f} ms",
    ]


# -- creating bookings -----------------------------------------------------------------------


def _time_creates(
    site: Site, clients: int, per_client: int, seed: int, *, pace_ms: int
) -> list[str]:
    """``clients`` processes (as web workers are) book at once; every call is timed. With
    ``pace_ms`` each client sends a booking every ``pace_ms`` on average (people at their
    keyboards); without, as fast as it can (saturation)."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # each process opens its own connection
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(clients)
    results = context.Queue()
    processes = [
        context.Process(target=_client, args=(site, n, per_client, seed, pace_ms, barrier, results))
        for n in range(clients)
    ]
    began = time.perf_counter()
    for process in processes:
        process.start()
    timings: dict[str, list[float]] = defaultdict(list)
    for _ in processes:
        for outcome, elapsed in results.get():
            timings[outcome].append(elapsed)
    for process in processes:
        process.join()
    wall = time.perf_counter() - began
    cold = timings.pop(COLD, [])
    every = [ms for values in timings.values() for ms in values]
    booked = timings.get("booked", [])
    refusals = ", ".join(
        f"{code} {len(v)}" for code, v in sorted(timings.items()) if code != "booked"
    )
    pace = f", each every {pace_ms} ms on average" if pace_ms else ", as fast as they can"
    return [
        f"create, {clients} concurrent client{'s' if clients > 1 else ''} (processes{pace}) "
        f"x {per_client} bookings "
        f"({len(booked)} booked; refused: {refusals or 'none'}):",
        f"  every call p50: {_pct(every, 50):.1f} ms, p99: {_pct(every, 99):.1f} ms, "
        f"max: {max(every):.1f} ms",
        f"  booked p50: {_pct(booked, 50):.1f} ms, p99: {_pct(booked, 99):.1f} ms",
        f"  throughput: {len(every) / wall:.0f} calls/s",
        f"  cold (the {len(WARM_UP_STARTS)} untimed warm-up bookings of each fresh process, "
        f"not counted above): p50 {_pct(cold, 50):.1f} ms, max {max(cold):.1f} ms",
    ]


def _client(
    site: Site,
    number: int,
    per_client: int,
    seed: int,
    pace_ms: int,
    barrier: Any,
    results: Any,
) -> None:
    """One client: ``per_client`` bookings of random projects, types and windows, timed."""
    from django.db import connection

    from accounts.models import User
    from booking.capacity.services.bookings import booking_create
    from booking.models import GpuType, Project
    from stargate_portal.errors import DomainError

    chooser = random.Random(seed * 1000 + number)
    types = list(GpuType.objects.all())
    picks = [chooser.choice(site.projects) for _ in range(per_client + len(WARM_UP_STARTS))]
    projects = Project.objects.select_related("organisation").in_bulk([p for p, _u in picks])
    users = User.objects.in_bulk([u for _p, u in picks])
    timed: list[tuple[str, float]] = []
    for hours_ahead, (project_id, user_id) in zip(WARM_UP_STARTS, picks, strict=False):
        start = site.now + timedelta(hours=hours_ahead + number)
        began = time.perf_counter()
        with contextlib.suppress(DomainError):
            booking_create(
                user=users[user_id],
                project=projects[project_id],
                gpu_type=chooser.choice(types),
                node_count=1,
                starts_at=start,
                ends_at=start + timedelta(hours=1),
            )
        timed.append((COLD, (time.perf_counter() - began) * 1000))
    picks = picks[len(WARM_UP_STARTS) :]
    barrier.wait()
    due = time.perf_counter() + chooser.uniform(0, pace_ms / 1000)
    for project_id, user_id in picks:
        if pace_ms:
            time.sleep(max(due - time.perf_counter(), 0))
            due += chooser.expovariate(1000 / pace_ms)
        start = site.now + timedelta(hours=chooser.randint(2, 8 * 7 * 24 - 1))
        began = time.perf_counter()
        try:
            booking_create(
                user=users[user_id],
                project=projects[project_id],
                gpu_type=chooser.choice(types),
                node_count=chooser.randint(1, 8),
                starts_at=start,
                ends_at=start + timedelta(hours=chooser.randint(1, 72)),
            )
            outcome = "booked"
        except DomainError as refused:
            outcome = refused.code
        timed.append((outcome, (time.perf_counter() - began) * 1000))
    connection.close()
    results.put(timed)


def _pct(values: list[float], percentile: int) -> float:
    if not values:
        return math.nan
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percentile - 1]


# -- the scratch database --------------------------------------------------------------------


if __name__ == "__main__":
    sys.exit(main())
