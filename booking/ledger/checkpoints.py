"""Ledger checkpoints: an allocation's entries folded into running totals, so a balance reads
the checkpoint and the entries after it instead of the allocation's whole history.

``ledger_checkpoints_advance`` (Celery beat) walks the allocations in batches. Each batch locks
its allocation rows, in primary-key order, as every ledger write does before it inserts; so
while the batch holds them no entry of those allocations is uncommitted, and the highest id
read is a safe ``through_entry_id`` (ids come from a sequence without a per-session cache:
an entry inserted later has a higher one). It adds the entries after each checkpoint to it
when there are at least ``min_entries`` of them, and their charges per day to its last
``DAYS_KEPT`` days (the usage chart's) and per hour to its last ``HOURS_KEPT`` (the burn
rates'). Checkpoints are derived data: the balance is
the same with or without them (``balances_by_allocation`` reads both).
"""

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from booking.ledger.selectors import (
    balance_from_row,
    balance_sums,
    charged_by_day,
    charged_by_hour,
    checkpoint_balance,
    checkpoint_days,
    checkpoint_hours,
    checkpoints_and_entries_after,
)
from booking.models import Allocation, LedgerCheckpoint
from booking.scheduler.hours import ZERO

Period = TypeVar("Period", bound=date)
"""A day, or an hour (a datetime)."""

BATCH = 200
"""Allocations per transaction: each batch holds their row locks for one grouped read."""
DAYS_KEPT = 400
"""Days of charges a checkpoint keeps one by one (``charged_days``, for the usage chart of
the last 90 days); earlier days are only in its total."""
HOURS_KEPT = timedelta(days=8)
"""How far back from its last hour a checkpoint keeps its charges per hour (``charged_hours``,
for the burn rates of the last 24 hours and 7 days)."""


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
    rows = list(
        after.order_by()
        .values("project_id", "gpu_type_id")
        .annotate(n=Count("pk"), through=Max("pk"), **balance_sums())
        .filter(n__gte=min_entries)
    )
    now = timezone.now()
    days = charged_by_day(after) if rows else {}
    hours = charged_by_hour(after) if rows else {}
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
                charged_days=_merged(
                    checkpoint_days(earlier), days.get(pair, {}), timedelta(days=DAYS_KEPT - 1)
                ),
                charged_hours=_merged(checkpoint_hours(earlier), hours.get(pair, {}), HOURS_KEPT),
                made_at=now,
            )
        )
    LedgerCheckpoint.objects.bulk_create(
        folded,
        update_conflicts=True,
        unique_fields=["project", "gpu_type"],
        update_fields=[
            "through_entry_id",
            "granted",
            "held",
            "charged",
            "entries",
            "charged_days",
            "charged_hours",
            "made_at",
        ],
    )
    return len(folded)


def _merged(
    kept: Mapping[Period, Decimal], added: Mapping[Period, Decimal], span: timedelta
) -> dict[str, str]:
    """A checkpoint's days or hours with the folded entries' added, those at most ``span``
    before the last one only, as stored (ISO keys)."""
    periods = dict(kept)
    for period, gpu_hours in added.items():
        periods[period] = periods.get(period, ZERO) + gpu_hours
    if not periods:
        return {}
    first = max(periods) - span
    return {key.isoformat(): str(h) for key, h in sorted(periods.items()) if key >= first}
