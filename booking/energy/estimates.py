"""The energy formula, written once: what a job, an idle booked node or an application's
requested GPU-hours consume, and the figures that follow from a facility energy (renewable
energy, emissions, heat reused, emissions on the comparison grid).

IT energy of GPU-hours = GPU-hours x (power per GPU + the node's overhead / GPUs per node): a job
that uses part of a node carries that share of the node's CPU, memory and network. Facility
energy = IT energy x PUE.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from booking.energy.factors import FactorBook, GpuPower, SiteFactors
from booking.models import GpuType

PLACES = Decimal("0.000001")
THOUSAND = Decimal(1000)


@dataclass(frozen=True)
class Figures:
    """Energy in kWh, emissions in kg CO2e, GPU-hours."""

    gpu_hours: Decimal
    it_kwh: Decimal
    facility_kwh: Decimal
    renewable_kwh: Decimal
    emissions_kg: Decimal
    heat_reused_kwh: Decimal
    comparison_emissions_kg: Decimal

    def as_dict(self) -> dict[str, Decimal]:
        return {name: getattr(self, name) for name in FIGURE_NAMES}


FIGURE_NAMES = (
    "gpu_hours",
    "it_kwh",
    "facility_kwh",
    "renewable_kwh",
    "emissions_kg",
    "heat_reused_kwh",
    "comparison_emissions_kg",
)


def busy_it_kwh(*, gpu_hours: Decimal, power: GpuPower) -> Decimal:
    """IT energy of GPUs at full use, with their share of the node overhead."""
    watts = power.full_power_watts + Decimal(power.node_overhead_watts) / power.gpus_per_node
    return gpu_hours * watts / THOUSAND


def idle_it_kwh(*, gpu_hours: Decimal, power: GpuPower) -> Decimal:
    """IT energy of booked GPUs left idle, with their share of the node overhead."""
    watts = power.idle_power_watts + Decimal(power.node_overhead_watts) / power.gpus_per_node
    return gpu_hours * watts / THOUSAND


def figures_of(*, gpu_hours: Decimal, it_kwh: Decimal, site: SiteFactors) -> Figures:
    """Everything that follows from an IT energy under the site's factors."""
    facility = it_kwh * site.pue
    residual_share = 1 - site.renewable_share
    intensity = (
        site.renewable_share * site.renewable_gco2_per_kwh
        + residual_share * site.residual_gco2_per_kwh
    )
    return Figures(
        gpu_hours=gpu_hours.quantize(PLACES),
        it_kwh=it_kwh.quantize(PLACES),
        facility_kwh=facility.quantize(PLACES),
        renewable_kwh=(facility * site.renewable_share).quantize(PLACES),
        emissions_kg=(facility * intensity / THOUSAND).quantize(PLACES),
        heat_reused_kwh=(facility * site.heat_reuse_share * site.heat_reuse_efficiency).quantize(
            PLACES
        ),
        comparison_emissions_kg=(facility * site.comparison_gco2_per_kwh / THOUSAND).quantize(
            PLACES
        ),
    )


def gpu_hours_energy_kwh(
    *, gpu_type: GpuType, gpu_hours: Decimal, book: FactorBook | None = None
) -> Decimal:
    """Facility energy of ``gpu_hours`` at full use under today's factors (an application's
    estimate; the same formula as a finished job's estimated energy)."""
    book = book or FactorBook()
    now = timezone.now()
    it_kwh = busy_it_kwh(gpu_hours=Decimal(gpu_hours), power=book.gpu_at(gpu_type, now))
    return (it_kwh * book.site_at(now).pue).quantize(Decimal("0.1"))


def request_energy_kwh(
    requests: Iterable[tuple[GpuType, Decimal]], *, book: FactorBook | None = None
) -> Decimal:
    """The estimate shown while an application is edited (``book``: factors already loaded,
    for a list of applications)."""
    book = book or FactorBook()
    return sum(
        (gpu_hours_energy_kwh(gpu_type=t, gpu_hours=h, book=book) for t, h in requests),
        Decimal(0),
    )


def pue_now() -> Decimal:
    """The PUE in force now (the applications' estimate shows it)."""
    return FactorBook().site_at(timezone.now()).pue
