"""Balances of a page of projects in one query, and the daily usage behind the chart."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import TruncDate

from booking.models import LedgerEntry, LedgerEntryKind, Project
from booking.selectors.ledger import _SUMS, Balance, _balance, _sum


def balances_by_project(projects: Iterable[Project]) -> dict[int, dict[str, Balance]]:
    """Project id → GPU type name → balance, for a page of projects. One query.

    The same sums as ``booking.selectors.ledger.balances_of`` (one project), for many.
    """
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
    """GPU type name → (day, GPU-hours charged net of refunds that day), oldest first."""
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
