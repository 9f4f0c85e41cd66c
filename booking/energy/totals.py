"""The site's monthly totals (``EnergyMonthTotal``): sums of the records per month, GPU type,
tier and kind, read by the public page instead of a million records.

They stay equal to the sums of the records because every write of records adds them to the
totals in the same transaction (an upsert that adds, so concurrent workers never lose an
update), and a recomputation rebuilds the totals of its months from the records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Sum

from booking.energy.estimates import FIGURE_NAMES
from booking.models import EnergyMonthTotal, EnergyRecord

FIGURES = FIGURE_NAMES
Key = tuple[date, int, int, str]


def month_totals_add(records: Iterable[EnergyRecord], *, sign: int = 1) -> None:
    """Add (``sign`` -1: take away) ``records`` to the monthly totals."""
    sums: dict[Key, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * (len(FIGURES) + 1))
    for record in records:
        row = sums[(record.month, record.gpu_type_id, record.tier, record.kind)]
        for i, name in enumerate(FIGURES):
            row[i] += sign * getattr(record, name)
        row[-1] += sign
    if sums:
        _upsert_adding(sums)


def _upsert_adding(sums: dict[Key, list[Decimal]]) -> None:
    table = EnergyMonthTotal._meta.db_table
    columns = ", ".join((*FIGURES, "records"))
    adds = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in (*FIGURES, "records"))
    placeholders = ", ".join(["%s"] * (4 + len(FIGURES) + 1))
    sql = (
        f"INSERT INTO {table} (month, gpu_type_id, tier, kind, {columns}) "  # noqa: S608
        f"VALUES ({placeholders}) "
        f"ON CONFLICT (month, gpu_type_id, tier, kind) DO UPDATE SET {adds}"
    )
    rows: list[tuple[Any, ...]] = [
        (*key, *values[:-1], int(values[-1])) for key, values in sorted(sums.items())
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def month_totals_rebuild(months: Sequence[date]) -> None:
    """Make the totals of ``months`` again from the records."""
    with transaction.atomic():
        EnergyMonthTotal.objects.filter(month__in=months).delete()
        grouped = (
            EnergyRecord.objects.filter(month__in=months)
            .values("month", "gpu_type_id", "tier", "kind")
            .annotate(records=Count("pk"), **{name: Sum(name) for name in FIGURES})
            .order_by()
        )
        EnergyMonthTotal.objects.bulk_create(EnergyMonthTotal(**row) for row in grouped)
