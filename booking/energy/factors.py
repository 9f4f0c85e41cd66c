"""The energy factors in force at a moment: the site's, and each GPU type's power.

A row is in force from the start (00:00 UTC) of its ``effective_from`` day until the next row's.
Before the first row, the defaults of the settings apply (``SITE_PUE`` and
``ENERGY_DEFAULT_FACTORS``; a GPU type's power at full use is its ``power_watts``).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.conf import settings

from booking.models import GpuEnergyFactors, GpuType, SiteEnergyFactors


@dataclass(frozen=True)
class SiteFactors:
    effective_from: date | None
    pue: Decimal
    renewable_share: Decimal
    renewable_gco2_per_kwh: Decimal
    residual_gco2_per_kwh: Decimal
    heat_reuse_share: Decimal
    heat_reuse_efficiency: Decimal
    comparison_gco2_per_kwh: Decimal
    comparison_grid: str

    @classmethod
    def of(cls, row: SiteEnergyFactors) -> SiteFactors:
        return cls(
            effective_from=row.effective_from,
            pue=row.pue,
            renewable_share=row.renewable_share,
            renewable_gco2_per_kwh=row.renewable_gco2_per_kwh,
            residual_gco2_per_kwh=row.residual_gco2_per_kwh,
            heat_reuse_share=row.heat_reuse_share,
            heat_reuse_efficiency=row.heat_reuse_efficiency,
            comparison_gco2_per_kwh=row.comparison_gco2_per_kwh,
            comparison_grid=row.comparison_grid,
        )

    @classmethod
    def default(cls) -> SiteFactors:
        values = settings.ENERGY_DEFAULT_FACTORS
        return cls(
            effective_from=None,
            pue=Decimal(str(settings.SITE_PUE)),
            renewable_share=Decimal(values["renewable_share"]),
            renewable_gco2_per_kwh=Decimal(values["renewable_gco2_per_kwh"]),
            residual_gco2_per_kwh=Decimal(values["residual_gco2_per_kwh"]),
            heat_reuse_share=Decimal(values["heat_reuse_share"]),
            heat_reuse_efficiency=Decimal(values["heat_reuse_efficiency"]),
            comparison_gco2_per_kwh=Decimal(values["comparison_gco2_per_kwh"]),
            comparison_grid=values["comparison_grid"],
        )


@dataclass(frozen=True)
class GpuPower:
    """Per GPU: the power at full use and at idle; per node: the overhead; GPUs per node."""

    effective_from: date | None
    full_power_watts: int
    idle_power_watts: int
    node_overhead_watts: int
    gpus_per_node: int

    @classmethod
    def default(cls, gpu_type: GpuType) -> GpuPower:
        idle_share = Decimal(settings.ENERGY_DEFAULT_FACTORS["idle_power_share"])
        return cls(
            effective_from=None,
            full_power_watts=gpu_type.power_watts,
            idle_power_watts=int(gpu_type.power_watts * idle_share),
            node_overhead_watts=0,
            gpus_per_node=gpu_type.gpus_per_node,
        )


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class FactorBook:
    """Every factor row, loaded once (the tables are small): what is in force when, and where
    a period must be cut because a factor changed."""

    def __init__(self, *, as_of: datetime | None = None) -> None:
        """The factors stored now, or as they were stored at ``as_of`` (their history)."""
        site_rows = SiteEnergyFactors.history.as_of(as_of) if as_of else SiteEnergyFactors.objects
        gpu_rows = GpuEnergyFactors.history.as_of(as_of) if as_of else GpuEnergyFactors.objects
        self._site = [SiteFactors.of(row) for row in site_rows.order_by("effective_from")]
        self._site_days: list[date] = [f.effective_from for f in self._site if f.effective_from]
        self._gpu_types = {t.pk: t for t in GpuType.objects.all()}
        self._gpu: dict[int, list[GpuEnergyFactors]] = {}
        for row in gpu_rows.order_by("gpu_type_id", "effective_from"):
            self._gpu.setdefault(row.gpu_type_id, []).append(row)

    def site_at(self, moment: datetime) -> SiteFactors:
        i = bisect.bisect_right(self._site_days, moment.astimezone(UTC).date())
        return self._site[i - 1] if i else SiteFactors.default()

    def gpu_at(self, gpu_type: GpuType, moment: datetime) -> GpuPower:
        rows = self._gpu.get(gpu_type.pk, [])
        i = bisect.bisect_right([r.effective_from for r in rows], moment.astimezone(UTC).date())
        if not i:
            return GpuPower.default(gpu_type)
        row = rows[i - 1]
        return GpuPower(
            effective_from=row.effective_from,
            full_power_watts=row.full_power_watts,
            idle_power_watts=row.idle_power_watts,
            node_overhead_watts=row.node_overhead_watts,
            gpus_per_node=gpu_type.gpus_per_node,
        )

    def changes_between(self, gpu_type_id: int, start: datetime, end: datetime) -> list[datetime]:
        """The moments strictly inside ``(start, end)`` at which a factor changes."""
        days = {*self._site_days, *(r.effective_from for r in self._gpu.get(gpu_type_id, []))}
        moments = (day_start(day) for day in days)
        return sorted(m for m in moments if start < m < end)

    def site_rows_between(self, first: date, last: date) -> list[SiteFactors]:
        """The site factors in force at some time from ``first`` to ``last`` (days)."""
        i = max(bisect.bisect_right(self._site_days, first) - 1, 0)
        rows = [f for f in self._site[i:] if f.effective_from and f.effective_from <= last]
        return rows or [SiteFactors.default()]

    def gpu_rows_between(self, first: date, last: date) -> list[tuple[str, GpuPower]]:
        """Per GPU type, the power factors in force at some time from ``first`` to ``last``."""
        found = []
        for pk, gpu_type in sorted(self._gpu_types.items(), key=lambda kv: kv[1].name):
            start, end = day_start(first), day_start(last)
            moments = [start, *self.changes_between(pk, start, end)]
            seen = []
            for moment in moments:
                power = self.gpu_at(gpu_type, moment)
                if power not in seen:
                    seen.append(power)
            found += [(gpu_type.name, power) for power in seen]
        return found
