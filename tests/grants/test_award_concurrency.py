"""Twenty staff race to award the last GPU-hours of a pool on PostgreSQL."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from accounts.models import User
from booking.grants.services.applications import application_submit
from booking.grants.services.decisions import application_award
from booking.models import Application, ApplicationState, CallPool, LedgerEntry
from stargate_portal.errors import Conflict
from tests.factories import CallFactory
from tests.fixtures.grants import draft_for

THREADS = 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_awards_never_exceed_the_pool(alice: User, staff: User) -> None:
    call = CallFactory(pools={"H100": 5_000})
    applications = [
        application_submit(application=draft_for(alice, call), user=alice) for _ in range(THREADS)
    ]
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []

    def award(application: Application) -> None:
        try:
            barrier.wait()
            application_award(
                application=application,
                staff=staff,
                reason="race",
                gpu_hours={"H100": Decimal(1_000)},
            )
            outcomes.append("awarded")
        except Conflict as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=award, args=(a,)) for a in applications]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("awarded") == 5
    assert outcomes.count("pool_exhausted") == THREADS - 5
    pool = CallPool.objects.get(call=call)
    assert pool.awarded_gpu_hours == pool.gpu_hours == Decimal(5_000)
    granted = LedgerEntry.objects.filter(kind="grant").aggregate(total=Sum("gpu_hours"))["total"]
    assert granted == Decimal(5_000)
    assert Application.objects.filter(state=ApplicationState.AWARDED).count() == 5
