"""Recomputing a period after a factor was corrected: every record of the period's months is
computed again with the factors now stored, the monthly totals of those months are rebuilt,
and the recomputation is audited with the totals before and after. Records of other months,
even of the same jobs, are left as they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from booking.energy.accounting import booking_idle_figures, job_energy_figures, next_month
from booking.energy.estimates import FIGURE_NAMES, PLACES, Figures
from booking.energy.factors import FactorBook
from booking.energy.totals import month_totals_rebuild
from booking.models import EnergyKind, EnergyRecomputation, EnergyRecord
from stargate_portal.errors import ValidationFailed

BATCH = 2_000


@dataclass(frozen=True)
class RecomputeReport:
    recomputation: EnergyRecomputation
    before: dict[str, str]
    after: dict[str, str]
    changed: int


def period_totals(first: date, last: date) -> dict[str, str]:
    """The sums of the records of months ``first`` to ``last``."""
    sums = EnergyRecord.objects.filter(month__gte=first, month__lte=last).aggregate(
        **{name: Sum(name) for name in FIGURE_NAMES}
    )
    # Quantized: SQLite's sums come back as floats turned into Decimals.
    return {name: str((sums[name] or Decimal(0)).quantize(PLACES)) for name in FIGURE_NAMES}


def energy_recompute(*, first: date, last: date, reason: str, requested_by: str) -> RecomputeReport:
    """Compute the records of months ``first``..``last`` again; one transaction."""
    first, last = first.replace(day=1), last.replace(day=1)
    if last < first:
        raise ValidationFailed("The period ends before it starts.", code="invalid_period")
    if not reason.strip():
        raise ValidationFailed("Say why the period is recomputed.", code="reason_required")
    book = FactorBook()
    with transaction.atomic():
        before = period_totals(first, last)
        records = (
            EnergyRecord.objects.select_for_update(of=("self",))
            .filter(month__gte=first, month__lte=last)
            .select_related("job__gpu_type", "booking__gpu_type")
            .order_by("pk")
        )
        changed, pending, now = 0, [], timezone.now()
        for record in records.iterator(chunk_size=BATCH):
            figures = _fresh(record, book).get(record.month)
            if figures is not None and _changed(record, figures, now):
                pending.append(record)
            if len(pending) >= BATCH:
                changed += _save(pending)
        changed += _save(pending)
        months = _months(first, last)
        month_totals_rebuild(months)
        after = period_totals(first, last)
        audit = EnergyRecomputation.objects.create(
            first_month=first,
            last_month=last,
            reason=reason.strip()[:500],
            requested_by=requested_by[:254],
            at=timezone.now(),
            totals_before=before,
            totals_after=after,
            records_changed=changed,
        )
    return RecomputeReport(audit, before, after, changed)


def _fresh(record: EnergyRecord, book: FactorBook) -> dict[date, Figures]:
    if record.kind == EnergyKind.JOB:
        assert record.job is not None  # noqa: S101 - the check constraint says so
        return job_energy_figures(record.job, book=book)
    assert record.booking is not None  # noqa: S101
    return booking_idle_figures(record.booking, book=book)


def _changed(record: EnergyRecord, figures: Figures, now: datetime) -> bool:
    values = figures.as_dict()
    if all(getattr(record, name) == values[name] for name in FIGURE_NAMES):
        return False
    for name, value in values.items():
        setattr(record, name, value)
    record.computed_at = now
    return True


def _save(records: list[EnergyRecord]) -> int:
    """Write and forget the changed records; how many there were."""
    columns = [*FIGURE_NAMES, "computed_at"]
    table = EnergyRecord._meta.db_table
    assignments = ", ".join(f"{column} = %s" for column in columns)
    sql = f"UPDATE {table} SET {assignments} WHERE id = %s"  # noqa: S608 - our own names
    rows = [[*(getattr(r, c) for c in columns), r.pk] for r in records]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)  # one round trip per batch (psycopg's pipeline)
    count = len(records)
    records.clear()
    return count


def _months(first: date, last: date) -> list[date]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months
