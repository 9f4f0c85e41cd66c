"""The monthly totals of the energy records, kept so that no page reads the records:

- ``EnergyMonthTotal``, the site's, per month, GPU type, tier and kind (the public page);
- ``EnergyProjectMonthTotal``, per organisation, project, month, GPU type, kind and method
  (the reports and statements of a project or an organisation).

They stay equal to the sums of the records because every write of records adds them to both
in the same transaction (an upsert that adds, so concurrent workers never lose an update), and
a recomputation rebuilds the totals of its months from the records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, Model, Sum

from booking.energy.estimates import FIGURE_NAMES
from booking.models import EnergyMonthTotal, EnergyProjectMonthTotal, EnergyRecord

FIGURES = FIGURE_NAMES
SITE_KEY = ("month", "gpu_type_id", "tier", "kind")
PROJECT_KEY = ("organisation_id", "project_id", "month", "gpu_type_id", "kind", "method")


@dataclass
class _Sum:
    figures: list[Decimal] = field(default_factory=lambda: [Decimal(0)] * len(FIGURES))
    records: int = 0
    computed_at: datetime | None = None


def month_totals_add(records: Iterable[EnergyRecord], *, sign: int = 1) -> None:
    """Add (``sign`` -1: take away) ``records`` to the site's and the projects' monthly
    totals."""
    records = list(records)
    _upsert_adding(EnergyMonthTotal, SITE_KEY, _sums(records, SITE_KEY, sign), latest=False)
    _upsert_adding(
        EnergyProjectMonthTotal, PROJECT_KEY, _sums(records, PROJECT_KEY, sign), latest=True
    )


def _sums(records: list[EnergyRecord], key: tuple[str, ...], sign: int) -> dict[tuple, _Sum]:
    sums: dict[tuple[Any, ...], _Sum] = {}
    for record in records:
        row = sums.setdefault(tuple(getattr(record, name) for name in key), _Sum())
        for i, name in enumerate(FIGURES):
            row.figures[i] += sign * getattr(record, name)
        row.records += sign
        if row.computed_at is None or record.computed_at > row.computed_at:
            row.computed_at = record.computed_at
    return sums


def _upsert_adding(
    model: type[Model], key: tuple[str, ...], sums: dict[tuple, _Sum], *, latest: bool
) -> None:
    """Add ``sums`` to ``model``'s rows by ``key``; ``latest``: the rows also keep the latest
    ``computed_at`` of what they sum."""
    if not sums:
        return
    table = model._meta.db_table
    columns = [*key, *FIGURES, "records", *(["computed_at"] if latest else [])]
    sets = [f"{c} = {table}.{c} + excluded.{c}" for c in (*FIGURES, "records")]
    if latest:
        sets.append(
            f"computed_at = CASE WHEN excluded.computed_at > {table}.computed_at "
            f"THEN excluded.computed_at ELSE {table}.computed_at END"
        )
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(sets)}"
    )
    rows: list[tuple[Any, ...]] = [
        (*k, *s.figures, s.records, *([s.computed_at] if latest else []))
        for k, s in sorted(sums.items())
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def month_totals_rebuild(months: Sequence[date]) -> None:
    """Make the site's and the projects' totals of ``months`` again from the records."""
    figures = {name: Sum(name) for name in FIGURES}
    records = EnergyRecord.objects.filter(month__in=months)
    with transaction.atomic():
        EnergyMonthTotal.objects.filter(month__in=months).delete()
        grouped = records.values(*SITE_KEY).annotate(records=Count("pk"), **figures).order_by()
        EnergyMonthTotal.objects.bulk_create(EnergyMonthTotal(**row) for row in grouped)
        EnergyProjectMonthTotal.objects.filter(month__in=months).delete()
        by_project = (
            records.values(*PROJECT_KEY)
            .annotate(records=Count("pk"), computed_at=Max("computed_at"), **figures)
            .order_by()
        )
        EnergyProjectMonthTotal.objects.bulk_create(
            (EnergyProjectMonthTotal(**row) for row in by_project.iterator(chunk_size=2_000)),
            batch_size=2_000,
        )
