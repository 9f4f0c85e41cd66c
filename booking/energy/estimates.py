"""Energy figures: GPU-hours x GPU power x the site PUE."""

from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings

from booking.models import GpuType


def energy_kwh(*, gpu_hours: Decimal, power_watts: int, pue: float | None = None) -> Decimal:
    """Facility energy for ``gpu_hours`` on GPUs drawing ``power_watts`` each."""
    factor = Decimal(str(pue if pue is not None else settings.SITE_PUE))
    return (Decimal(gpu_hours) * power_watts * factor / 1000).quantize(Decimal("0.1"))


def request_energy_kwh(requests: Iterable[tuple[GpuType, Decimal]]) -> Decimal:
    """The estimate shown while an application is edited."""
    return sum(
        (energy_kwh(gpu_hours=h, power_watts=t.power_watts) for t, h in requests), Decimal(0)
    )
