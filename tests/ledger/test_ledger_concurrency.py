"""Twenty clients race for the last GPU-hours on PostgreSQL: exactly what is there is held."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from booking.ledger.selectors import balance_of
from booking.ledger.services import ledger_grant, ledger_hold
from booking.models import Allocation, LedgerEntry
from stargate_portal.errors import Conflict
from tests.factories import AllocationFactory

THREADS = 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_threads_holding_the_last_hours_never_overdraw() -> None:
    allocation: Allocation = AllocationFactory()
    target = {"project": allocation.project, "gpu_type": allocation.gpu_type}
    ledger_grant(**target, gpu_hours=Decimal(50), key="grant")
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []

    def client(n: int) -> None:
        try:
            barrier.wait()
            ledger_hold(**target, gpu_hours=Decimal(10), key=f"hold-{n}")
            outcomes.append("held")
        except Conflict as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("held") == 5
    assert outcomes.count("insufficient_gpu_hours") == THREADS - 5
    balance = balance_of(**target)
    assert balance.held == Decimal(50)
    assert balance.available == Decimal(0)
    assert LedgerEntry.objects.filter(kind="hold").count() == 5
