"""The site's public figures per month, from the monthly totals only (never a record): GPU-hours
per priority tier, energy, PUE, renewable share, heat reused, emissions and those avoided
against the comparison grid. Nothing here names a tenant, project or person: the totals hold
months, GPU types, tiers and sums, nothing else. Cached for ``ENERGY_PUBLIC_CACHE_SECONDS``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum

from accounts.tiers import PriorityTier
from booking.energy.estimates import FIGURE_NAMES, PLACES
from booking.models import EnergyKind, EnergyMonthTotal

CACHE_KEY = "energy:public:v1"
EUROPEAN_PRIORITY_TIERS = (PriorityTier.EUROPEAN_ACADEMIC, PriorityTier.EUROPEAN_STARTUP)
ZERO = Decimal(0)


def _ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    return (part / whole).quantize(Decimal("0.0001")) if whole else None


@dataclass
class PublicMonth:
    month: date
    gpu_hours_by_tier: dict[int, Decimal] = field(default_factory=dict)
    job_facility_kwh: Decimal = ZERO
    idle_facility_kwh: Decimal = ZERO
    it_kwh: Decimal = ZERO
    renewable_kwh: Decimal = ZERO
    heat_reused_kwh: Decimal = ZERO
    emissions_kg: Decimal = ZERO
    comparison_emissions_kg: Decimal = ZERO

    @property
    def gpu_hours(self) -> Decimal:
        return sum(self.gpu_hours_by_tier.values(), ZERO)

    @property
    def facility_kwh(self) -> Decimal:
        return self.job_facility_kwh + self.idle_facility_kwh

    @property
    def european_priority_share(self) -> Decimal | None:
        """The share of GPU-hours that went to European academia and startups."""
        ours = sum(
            (self.gpu_hours_by_tier.get(int(t), ZERO) for t in EUROPEAN_PRIORITY_TIERS), ZERO
        )
        return _ratio(ours, self.gpu_hours)

    @property
    def pue(self) -> Decimal | None:
        return _ratio(self.facility_kwh, self.it_kwh)

    @property
    def renewable_share(self) -> Decimal | None:
        return _ratio(self.renewable_kwh, self.facility_kwh)

    @property
    def emissions_avoided_kg(self) -> Decimal:
        return self.comparison_emissions_kg - self.emissions_kg

    def as_dict(self) -> dict[str, Any]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        def amount(value: Decimal) -> str:
            return str(Decimal(value).quantize(PLACES))

        return {
            "month": f"{self.month:%Y-%m}",
            "gpu_hours": amount(self.gpu_hours),
            "gpu_hours_by_tier": {
                str(int(t)): amount(self.gpu_hours_by_tier.get(int(t), ZERO)) for t in PriorityTier
            },
            "european_academia_and_startups_share": text(self.european_priority_share),
            "energy_kwh": amount(self.facility_kwh),
            "idle_energy_kwh": amount(self.idle_facility_kwh),
            "it_energy_kwh": amount(self.it_kwh),
            "pue": text(self.pue),
            "renewable_share": text(self.renewable_share),
            "heat_reused_kwh": amount(self.heat_reused_kwh),
            "emissions_kg": amount(self.emissions_kg),
            "comparison_emissions_kg": amount(self.comparison_emissions_kg),
            "emissions_avoided_kg": amount(self.emissions_avoided_kg),
        }


def public_months_compute(*, months: int = 12) -> list[PublicMonth]:
    """The latest ``months`` months that have figures, newest first (one query)."""
    recent = list(
        EnergyMonthTotal.objects.values_list("month", flat=True)
        .distinct()
        .order_by("-month")[:months]
    )
    rows: Any = (
        EnergyMonthTotal.objects.filter(month__in=recent)
        .values("month", "tier", "kind")
        .annotate(**{name: Sum(name) for name in FIGURE_NAMES})
        .order_by()
    )
    found: dict[date, PublicMonth] = {m: PublicMonth(month=m) for m in recent}
    for row in rows:
        month = found[row["month"]]
        if row["kind"] == EnergyKind.JOB:
            month.gpu_hours_by_tier[row["tier"]] = (
                month.gpu_hours_by_tier.get(row["tier"], ZERO) + row["gpu_hours"]
            )
            month.job_facility_kwh += row["facility_kwh"]
        else:
            month.idle_facility_kwh += row["facility_kwh"]
        month.it_kwh += row["it_kwh"]
        month.renewable_kwh += row["renewable_kwh"]
        month.heat_reused_kwh += row["heat_reused_kwh"]
        month.emissions_kg += row["emissions_kg"]
        month.comparison_emissions_kg += row["comparison_emissions_kg"]
    return [found[m] for m in recent]


def public_months() -> list[PublicMonth]:
    """``public_months_compute`` through the cache (every web process shares it)."""
    result = cache.get_or_set(
        CACHE_KEY, public_months_compute, settings.ENERGY_PUBLIC_CACHE_SECONDS
    )
    return list(result or [])
