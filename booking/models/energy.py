"""Energy and carbon accounting.

- ``SiteEnergyFactors`` and ``GpuEnergyFactors``: the site's factors and each GPU type's power,
  each row in force from its ``effective_from`` day until the next row's; staff edit them and
  every edit is kept (django-simple-history), so a past month's report can be reproduced.
- ``EnergyRecord``: the energy of one job attempt (or the idle part of one capacity booking) in
  one calendar month; a job that spans two months has two records, split by runtime.
- ``EnergyMonthTotal``: site-wide sums of the records per month, GPU type, tier and kind, kept
  in the same transaction as the records they sum (the public page reads only these).
- ``EnergyProjectMonthTotal``: the same sums per organisation, project, month, GPU type, kind
  and method, kept the same way: the project and organisation reports and statements read
  these, never the records (a year of the site is tens of millions of records).
- ``EnergyRecomputation``: the audit of a staff recomputation, with the totals before and after.
"""

from decimal import Decimal
from typing import Any, ClassVar

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.models import Organisation
from booking.models.capacity import CapacityBooking
from booking.models.gpu_types import GpuType
from booking.models.jobs import Job
from booking.models.projects import Project

FRACTION = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))]
INTENSITY = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(5000))]


def _fraction(label: Any) -> models.DecimalField:
    return models.DecimalField(label, max_digits=5, decimal_places=4, validators=FRACTION)


def _intensity(label: Any) -> models.DecimalField:
    return models.DecimalField(label, max_digits=7, decimal_places=2, validators=INTENSITY)


class SiteEnergyFactors(models.Model):
    """The site's energy factors in force from ``effective_from`` (UTC day)."""

    effective_from = models.DateField(_("in force from"), unique=True)
    pue = models.DecimalField(
        _("PUE"),
        max_digits=4,
        decimal_places=3,
        validators=[MinValueValidator(Decimal(1)), MaxValueValidator(Decimal(3))],
        help_text=_("Power usage effectiveness: facility energy / IT energy."),
    )
    renewable_share = _fraction(_("renewable share"))
    renewable_gco2_per_kwh = _intensity(_("renewable supply (gCO2e/kWh)"))
    residual_gco2_per_kwh = _intensity(_("residual supply (gCO2e/kWh)"))
    heat_reuse_share = _fraction(_("share of heat reused"))
    heat_reuse_efficiency = _fraction(_("heat reuse efficiency"))
    comparison_gco2_per_kwh = _intensity(_("comparison grid (gCO2e/kWh)"))
    comparison_grid = models.CharField(_("comparison grid"), max_length=100, default="EU average")
    source = models.CharField(_("source"), max_length=500, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("-effective_from",)
        verbose_name_plural = _("site energy factors")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(
                    pue__gte=1,
                    pue__lte=3,
                    renewable_share__gte=0,
                    renewable_share__lte=1,
                    heat_reuse_share__gte=0,
                    heat_reuse_share__lte=1,
                    heat_reuse_efficiency__gte=0,
                    heat_reuse_efficiency__lte=1,
                    renewable_gco2_per_kwh__gte=0,
                    residual_gco2_per_kwh__gte=0,
                    comparison_gco2_per_kwh__gte=0,
                ),
                name="site_energy_factors_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"site factors from {self.effective_from}"


class GpuEnergyFactors(models.Model):
    """A GPU type's power at full use and at idle, and its node's overhead per node."""

    gpu_type = models.ForeignKey(GpuType, on_delete=models.PROTECT, related_name="energy_factors")
    effective_from = models.DateField(_("in force from"))
    full_power_watts = models.PositiveIntegerField(
        _("power at full use (W per GPU)"), validators=[MaxValueValidator(10_000)]
    )
    idle_power_watts = models.PositiveIntegerField(
        _("power at idle (W per GPU)"), validators=[MaxValueValidator(10_000)]
    )
    node_overhead_watts = models.PositiveIntegerField(
        _("node overhead (W per node)"),
        validators=[MaxValueValidator(100_000)],
        help_text=_("CPU, memory and network of one node, shared by the GPUs a job uses."),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("gpu_type__name", "-effective_from")
        verbose_name_plural = _("GPU energy factors")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["gpu_type", "effective_from"], name="gpu_energy_factors_once_a_day"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    full_power_watts__gt=0,
                    full_power_watts__lte=10_000,
                    idle_power_watts__lte=models.F("full_power_watts"),
                    node_overhead_watts__lte=100_000,
                ),
                name="gpu_energy_factors_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gpu_type_id} power from {self.effective_from}"


class EnergyKind(models.TextChoices):
    JOB = "job", _("Job")
    IDLE = "idle", _("Booked but idle")


class EnergyMethod(models.TextChoices):
    MEASURED = "measured", _("Measured by the cluster")
    ESTIMATED = "estimated", _("Estimated from GPU power")
    IDLE = "idle", _("Idle power of booked nodes")


def _kwh(label: Any) -> models.DecimalField:
    return models.DecimalField(label, max_digits=20, decimal_places=6, default=Decimal(0))


class EnergyFigures(models.Model):
    """The figures a record and a monthly total share."""

    gpu_hours = _kwh(_("GPU-hours"))
    it_kwh = _kwh(_("IT energy (kWh)"))
    facility_kwh = _kwh(_("facility energy (kWh)"))
    renewable_kwh = _kwh(_("renewable energy (kWh)"))
    emissions_kg = _kwh(_("emissions (kg CO2e)"))
    heat_reused_kwh = _kwh(_("heat reused (kWh)"))
    comparison_emissions_kg = _kwh(_("emissions on the comparison grid (kg CO2e)"))

    class Meta:
        abstract = True


class EnergyRecord(EnergyFigures):
    """The energy of one job attempt, or of one booking's idle nodes, in one month."""

    kind = models.CharField(max_length=8, choices=EnergyKind.choices)
    method = models.CharField(max_length=12, choices=EnergyMethod.choices)
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.CASCADE, related_name="energy_records"
    )
    attempt = models.PositiveSmallIntegerField(default=1)
    booking = models.ForeignKey(
        CapacityBooking,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="energy_records",
    )
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    gpu_type = models.ForeignKey(GpuType, on_delete=models.PROTECT, related_name="+")
    tier = models.PositiveSmallIntegerField()
    month = models.DateField(help_text=_("The first day of the month."))
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ("month", "pk")
        indexes: ClassVar = [
            models.Index(fields=["organisation", "month"], name="energy_org_month"),
            models.Index(fields=["project", "month"], name="energy_project_month"),
            models.Index(fields=["month"], name="energy_month"),
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["job", "attempt", "month"],
                condition=models.Q(kind="job"),
                name="energy_record_once_per_job_attempt_month",
            ),
            models.UniqueConstraint(
                fields=["booking", "month"],
                condition=models.Q(kind="idle"),
                name="energy_record_once_per_booking_month",
            ),
            models.CheckConstraint(
                condition=(models.Q(kind="job", job__isnull=False, booking__isnull=True))
                | models.Q(kind="idle", job__isnull=True, booking__isnull=False, method="idle"),
                name="energy_record_kind_matches",
            ),
            models.CheckConstraint(
                condition=models.Q(month__day=1), name="energy_record_month_first_day"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    gpu_hours__gte=0, it_kwh__gte=0, facility_kwh__gte=0, tier__gte=1, tier__lte=4
                ),
                name="energy_record_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} energy of {self.job_id or self.booking_id} in {self.month:%Y-%m}"


class EnergyMonthTotal(EnergyFigures):
    """Site-wide sums of ``EnergyRecord`` per month, GPU type, tier and kind."""

    month = models.DateField()
    gpu_type = models.ForeignKey(GpuType, on_delete=models.PROTECT, related_name="+")
    tier = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=8, choices=EnergyKind.choices)
    records = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("month", "gpu_type", "tier", "kind")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["month", "gpu_type", "tier", "kind"], name="energy_month_total_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} energy of tier {self.tier} in {self.month:%Y-%m}"


class EnergyProjectMonthTotal(EnergyFigures):
    """Sums of ``EnergyRecord`` per organisation, project, month, GPU type, kind and method
    (the organisation is the record's: a project's records keep the organisation they were
    accounted under), with the latest ``computed_at`` of the records summed."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    gpu_type = models.ForeignKey(GpuType, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=EnergyKind.choices)
    method = models.CharField(max_length=12, choices=EnergyMethod.choices)
    records = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ("month", "pk")
        indexes: ClassVar = [
            models.Index(fields=["project", "month"], name="energy_total_project_month"),
        ]
        constraints: ClassVar = [
            # Also the index of an organisation's months.
            models.UniqueConstraint(
                fields=["organisation", "month", "project", "gpu_type", "kind", "method"],
                name="energy_project_month_total_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} energy of project {self.project_id} in {self.month:%Y-%m}"


class EnergyRecomputation(models.Model):
    """A staff recomputation of the months ``first_month`` to ``last_month``."""

    first_month = models.DateField()
    last_month = models.DateField()
    reason = models.CharField(max_length=500)
    requested_by = models.CharField(max_length=254)
    at = models.DateTimeField()
    totals_before = models.JSONField()
    totals_after = models.JSONField()
    records_changed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-at",)
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(last_month__gte=models.F("first_month")),
                name="energy_recomputation_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"recomputation {self.first_month:%Y-%m}..{self.last_month:%Y-%m}"


__all__ = [
    "EnergyKind",
    "EnergyMethod",
    "EnergyMonthTotal",
    "EnergyProjectMonthTotal",
    "EnergyRecomputation",
    "EnergyRecord",
    "GpuEnergyFactors",
    "SiteEnergyFactors",
]
