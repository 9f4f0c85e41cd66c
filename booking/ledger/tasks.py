"""Celery tasks of the ledger: thin, take ids, load fresh state, safe to run twice.

Each task imports its service inside the body, so ledger services queue them without an
import cycle.
"""

from celery import shared_task


@shared_task
def allocation_low_balance_check(allocation_id: int) -> bool:
    from booking.ledger.low_balance import allocation_check_low_balance
    from booking.models import Allocation

    allocation = Allocation.objects.filter(pk=allocation_id).first()
    return allocation is not None and allocation_check_low_balance(allocation=allocation)


@shared_task(ignore_result=True)
def allocations_low_balance_sweep() -> int:
    """Beat: the low-balance checks that could not be queued (broker down) run here."""
    from booking.cluster.clock import cluster_today
    from booking.ledger.low_balance import allocations_low_balance_sweep as sweep

    return sweep(today=cluster_today())


@shared_task(ignore_result=True)
def ledger_checkpoints_advance() -> int:
    """Beat: fold long ledger histories into checkpoints (balances then read less)."""
    from booking.ledger.checkpoints import ledger_checkpoints_advance as advance

    return advance()
