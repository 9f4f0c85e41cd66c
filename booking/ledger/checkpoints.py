"""Ledger checkpoints: an allocation's entries folded into running totals, so a balance reads
the checkpoint and the entries after it instead of the allocation's whole history.

``ledger_checkpoints_advance`` (Celery beat) walks the allocations in batches. Each batch locks
its allocation rows, in primary-key order, as every ledger write does before it inserts; so
while the batch holds them no entry of those allocations is uncommitted, and the highest id
read is a safe ``through_entry_id`` (ids come from a sequence without a per-session cache:
an entry inserted later has a higher one). It adds the entries after each checkpoint to it
when there are at least ``min_entries`` of them. Checkpoints are derived data: the balance is
the same with or without them (``balances_by_allocation`` reads both).
"""

from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from booking.ledger.selectors import (
    balance_from_row,
    balance_sums,
    checkpoint_balance,
    checkpoints_and_entries_after,
)
from booking.models import Allocation, LedgerCheckpoint

BATCH = 200
"""Allocations per transaction: each batch holds their row locks for one grouped read."""


def ledger_checkpoints_advance(*, min_entries: int = 200, batch: int = BATCH) -> int:
    """Fold the entries after each allocation's checkpoint into it where there are at least
    ``min_entries``; the number of checkpoints written. Safe to run at any time, and twice."""
    written = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            locked = list(
                Allocation.objects.select_for_update()
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .values_list("pk", "project_id", "gpu_type_id")[:batch]
            )
            if not locked:
                return written
            last_pk = locked[-1][0]
            written += _fold(
                [(project, gpu_type) for _pk, project, gpu_type in locked], min_entries
            )


def _fold(pairs: list[tuple[int, int]], min_entries: int) -> int:
    kept, after = checkpoints_and_entries_after(pairs)
    rows = (
        after.order_by()
        .values("project_id", "gpu_type_id")
        .annotate(n=Count("pk"), through=Max("pk"), **balance_sums())
        .filter(n__gte=min_entries)
    )
    now = timezone.now()
    folded = []
    for row in rows:
        pair = (row["project_id"], row["gpu_type_id"])
        earlier = kept.get(pair)
        total = checkpoint_balance(earlier) + balance_from_row(row)
        folded.append(
            LedgerCheckpoint(
                project_id=pair[0],
                gpu_type_id=pair[1],
                through_entry_id=row["through"],
                granted=total.granted,
                held=total.held,
                charged=total.charged,
                entries=(earlier.entries if earlier is not None else 0) + row["n"],
                made_at=now,
            )
        )
    LedgerCheckpoint.objects.bulk_create(
        folded,
        update_conflicts=True,
        unique_fields=["project", "gpu_type"],
        update_fields=["through_entry_id", "granted", "held", "charged", "entries", "made_at"],
    )
    return len(folded)
