"""Staff writes of the energy factors: each save is one version in the history (who, when,
why), kept by django-simple-history."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import User
from booking.models import GpuEnergyFactors, SiteEnergyFactors
from stargate_portal.permissions import require_staff


def energy_factors_save(
    *, factors: SiteEnergyFactors | GpuEnergyFactors, staff: User, reason: str
) -> SiteEnergyFactors | GpuEnergyFactors:
    """Save a new or corrected row of factors; the history records ``staff`` and ``reason``."""
    require_staff(staff)
    factors.full_clean()
    factors._change_reason = reason[:100]  # type: ignore[union-attr]  # simple-history's field
    factors._history_user = staff  # type: ignore[union-attr]
    with transaction.atomic():
        factors.save()
    return factors


def factor_history(limit: int = 50) -> list[dict[str, object]]:
    """The latest edits of every factor table, newest first."""
    entries: list[Any] = []
    for model in (SiteEnergyFactors, GpuEnergyFactors):
        latest = model.history.select_related("history_user").order_by("-history_date")
        entries += latest[:limit]
    entries.sort(key=lambda entry: entry.history_date, reverse=True)
    return [
        {
            "at": entry.history_date,
            "by": entry.history_user.email if entry.history_user else "",
            "type": entry.get_history_type_display(),
            "reason": entry.history_change_reason or "",
            "row": str(entry.instance),
        }
        for entry in entries[:limit]
    ]
