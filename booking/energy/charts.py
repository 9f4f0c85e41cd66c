"""The charts of an energy report: facility energy per month stacked by GPU type (idle
energy of booked nodes on top, in grey), and emissions against the comparison grid."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _

from accounts.tiers import PriorityTier
from booking.charts.bars import BarChart, BarSeries, bar_chart
from booking.charts.scale import GREY, PALETTE, TIER_COLOURS, palette_colour
from booking.energy.periods import months_between
from booking.energy.public import PublicMonth
from booking.energy.selectors import EnergyReport
from booking.models import EnergyKind


def _label(month: object) -> str:
    return f"{month:%Y-%m}"


def energy_chart(report: EnergyReport) -> BarChart | None:
    months = months_between(report.first_month, report.last_month)
    series = []
    for i, name in enumerate(report.gpu_types):
        values = [
            sum(
                (
                    r.figures.facility_kwh
                    for r in report.rows
                    if r.month == m and r.gpu_type == name and r.kind == EnergyKind.JOB
                ),
                Decimal(0),
            )
            for m in months
        ]
        series.append(BarSeries(name, palette_colour(i), values))
    idle = [
        sum(
            (r.figures.facility_kwh for r in report.rows if r.month == m and r.kind == "idle"),
            Decimal(0),
        )
        for m in months
    ]
    if any(idle):
        series.append(BarSeries(_("booked, idle"), GREY, idle))
    return bar_chart([_label(m) for m in months], series, unit="kWh", stacked=True)


def emissions_chart(report: EnergyReport) -> BarChart | None:
    months = months_between(report.first_month, report.last_month)

    def per_month(name: str) -> list[Decimal]:
        return [
            sum((getattr(r.figures, name) for r in report.rows if r.month == m), Decimal(0))
            for m in months
        ]

    series = [
        BarSeries(_("emitted here"), PALETTE[2], per_month("emissions_kg")),
        BarSeries(_("on the comparison grid"), PALETTE[1], per_month("comparison_emissions_kg")),
    ]
    return bar_chart([_label(m) for m in months], series, unit="kg CO2e", stacked=False)


def public_tiers_chart(months: list[PublicMonth]) -> BarChart | None:
    """GPU-hours delivered per month, stacked by priority tier (oldest month first)."""
    ordered = sorted(months, key=lambda m: m.month)
    series = [
        BarSeries(
            str(tier.label),
            TIER_COLOURS[int(tier)],
            [m.gpu_hours_by_tier.get(int(tier), Decimal(0)) for m in ordered],
        )
        for tier in PriorityTier
    ]
    return bar_chart([_label(m.month) for m in ordered], series, unit="GPU-hours", stacked=True)
