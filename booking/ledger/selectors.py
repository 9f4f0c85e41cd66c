"""Balances derived from the ledger (the ledger is the truth; nothing is cached)."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from booking.models import GpuType, LedgerEntry, LedgerEntryKind, Project

ZERO = Decimal("0.0000")
HOURS = Decimal("0.0001")
_SUMS = {
    "granted": Q(kind__in=["grant", "adjustment"]),
    "held": Q(kind__in=["hold", "release"]),
    "charged": Q(kind__in=["charge", "refund"]),
}


@dataclass(frozen=True)
class Balance:
    granted: Decimal = ZERO
    held: Decimal = ZERO
    charged: Decimal = ZERO

    @property
    def available(self) -> Decimal:
        return self.granted - self.charged - self.held


def _sum(condition: Q) -> Coalesce:
    field = DecimalField(max_digits=14, decimal_places=4)
    return Coalesce(Sum("gpu_hours", filter=condition), Value(ZERO), output_field=field)


def balances_of(*, project: Project) -> dict[str, Balance]:
    """Per GPU type name: granted, held, charged (and available). One query."""
    return balances_by_project([project])[project.pk]


def balances_by_project(projects: Iterable[Project]) -> dict[int, dict[str, Balance]]:
    """Project id -> GPU type name -> balance, for a page of projects. One query."""
    ids = [project.pk for project in projects]
    rows = (
        LedgerEntry.objects.filter(project_id__in=ids)
        .order_by()
        .values("project_id", "gpu_type__name")
        .annotate(**{name: _sum(condition) for name, condition in _SUMS.items()})
    )
    balances: dict[int, dict[str, Balance]] = {pk: {} for pk in ids}
    for row in rows:
        balances[row["project_id"]][row["gpu_type__name"]] = _balance(row)
    return balances


def charged_per_day(project: Project) -> dict[str, list[tuple[date, Decimal]]]:
    """GPU type name -> (day, GPU-hours charged net of refunds that day), oldest first."""
    rows = (
        LedgerEntry.objects.filter(
            project=project, kind__in=[LedgerEntryKind.CHARGE, LedgerEntryKind.REFUND]
        )
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("gpu_type__name", "day")
        .annotate(gpu_hours=Sum("gpu_hours"))
        .order_by("day")
    )
    days: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for row in rows:
        days[row["gpu_type__name"]].append((row["day"], Decimal(row["gpu_hours"])))
    return dict(days)


def balance_of(*, project: Project, gpu_type: GpuType) -> Balance:
    """The balance of one (project, GPU type). One query."""
    row = LedgerEntry.objects.filter(project=project, gpu_type=gpu_type).aggregate(
        **{name: _sum(cond) for name, cond in _SUMS.items()}
    )
    return _balance(row)


def _balance(row: Mapping[str, Any]) -> Balance:
    # SQLite returns unscaled decimals; quantise so every backend reports the same figures.
    return Balance(*(Decimal(row[name]).quantize(HOURS) for name in ("granted", "held", "charged")))
