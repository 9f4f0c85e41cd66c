"""Fifty clients race for the same hours on PostgreSQL: exactly the pool is booked, never more,
and every other client gets a clear ``capacity_unavailable`` refusal."""

import random
import threading
from collections import Counter

import pytest
from django.db import connection

from booking.capacity.services.bookings import booking_create
from booking.models import CapacityBooking, CapacityHour, GpuType, Project
from stargate_portal.errors import DomainError
from tests.factories import UserFactory
from tests.fixtures.capacity import POOL_NODES, at
from tests.fixtures.jobs import project_for

CLIENTS = 50


def race(clients: list, attempt) -> list[str]:
    """Run ``attempt(client)`` in one thread per client, released together; each client's
    outcome ("booked" or the refusal's code), in the clients' order."""
    barrier = threading.Barrier(len(clients))
    outcomes: dict[int, str] = {}

    def run(index: int, client) -> None:
        try:
            barrier.wait()
            attempt(client)
            outcomes[index] = "booked"
        except DomainError as refused:
            outcomes[index] = refused.code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [outcomes.get(index, "no answer") for index in range(len(clients))]


def projects(alice_org, site: GpuType, count: int) -> list[tuple[object, Project]]:
    made = []
    for n in range(count):
        pi = UserFactory(email=f"pi{n}@uio.no")
        made.append((pi, project_for(pi, alice_org, site, gpu_hours=5_000, name=f"P{n}")))
    return made


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_clients_racing_for_the_same_hours_book_exactly_the_pool(alice_org, site):
    clients = projects(alice_org, site, 10) * (CLIENTS // 10)

    def attempt(client) -> None:
        user, project = client
        booking_create(
            user=user,
            project=project,
            gpu_type=site,
            node_count=1,
            starts_at=at(48),
            ends_at=at(72),
            now=at(0),
        )

    outcomes = race(clients, attempt)

    assert len(outcomes) == CLIENTS
    assert outcomes.count("booked") == POOL_NODES
    assert outcomes.count("capacity_unavailable") == CLIENTS - POOL_NODES
    assert CapacityBooking.objects.count() == POOL_NODES
    hours = CapacityHour.objects.filter(gpu_type=site, hour__gte=at(48), hour__lt=at(72))
    assert sorted(set(hours.values_list("booked_nodes", flat=True))) == [POOL_NODES]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_clients_booking_overlapping_windows_never_overbook_any_hour(alice_org, site):
    chooser = random.Random(2026)
    clients = [
        (user, project, chooser.randint(1, 4), chooser.randint(40, 60), chooser.randint(1, 30))
        for (user, project) in projects(alice_org, site, 10) * (CLIENTS // 10)
    ]

    def attempt(client) -> None:
        user, project, nodes, start, hours = client
        booking_create(
            user=user,
            project=project,
            gpu_type=site,
            node_count=nodes,
            starts_at=at(start),
            ends_at=at(start + hours),
            now=at(0),
        )

    outcomes = race(clients, attempt)

    assert set(Counter(outcomes)) <= {"booked", "capacity_unavailable"}
    assert outcomes.count("booked") == CapacityBooking.objects.count() > POOL_NODES // 4
    bookings = list(CapacityBooking.objects.all())
    for hour in range(40, 91):
        moment = at(hour)
        booked = sum(b.node_count for b in bookings if b.starts_at <= moment < b.ends_at)
        assert booked <= POOL_NODES, moment
        row = CapacityHour.objects.filter(gpu_type=site, hour=moment).first()
        assert (row.booked_nodes if row else 0) == booked, moment
    # Every refused client really was short: its nodes would overbook one of its hours.
    for (_user, _project, nodes, start, hours), outcome in zip(clients, outcomes, strict=True):
        if outcome == "capacity_unavailable":
            busiest = max(
                sum(b.node_count for b in bookings if b.starts_at <= at(h) < b.ends_at)
                for h in range(start, start + hours)
            )
            assert busiest + nodes > POOL_NODES
