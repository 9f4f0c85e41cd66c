"""Balances derived from the ledger (the ledger is the truth; nothing is cached)."""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce

from booking.models import GpuType, LedgerEntry, Project

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
    rows = (
        LedgerEntry.objects.filter(project=project)
        .order_by()
        .values("gpu_type__name")
        .annotate(**{name: _sum(cond) for name, cond in _SUMS.items()})
    )
    return {row["gpu_type__name"]: _balance(row) for row in rows}


def balance_of(*, project: Project, gpu_type: GpuType) -> Balance:
    """The balance of one (project, GPU type). One query."""
    row = LedgerEntry.objects.filter(project=project, gpu_type=gpu_type).aggregate(
        **{name: _sum(cond) for name, cond in _SUMS.items()}
    )
    return _balance(row)


def _balance(row: Mapping[str, Any]) -> Balance:
    # SQLite returns unscaled decimals; quantise so every backend reports the same figures.
    return Balance(*(Decimal(row[name]).quantize(HOURS) for name in ("granted", "held", "charged")))
