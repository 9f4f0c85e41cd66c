"""Output shapes of the energy API (read-only: nothing here is written through the API)."""

from typing import Any

from rest_framework import serializers

from booking.energy.estimates import Figures
from booking.energy.selectors import EnergyReport, JobEnergy


def _decimal(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=20, decimal_places=6, help_text=help_text)


class FiguresSerializer(serializers.Serializer):
    gpu_hours = _decimal("GPU-hours")
    it_kwh = _decimal("IT energy (kWh)")
    facility_kwh = _decimal("IT energy x PUE (kWh)")
    renewable_kwh = _decimal("renewable part (kWh)")
    emissions_kg = _decimal("kg CO2e")
    heat_reused_kwh = _decimal("heat reused (kWh)")
    comparison_emissions_kg = _decimal(
        "kg CO2e the same energy would have emitted on the comparison grid"
    )


def figures_data(figures: Figures) -> dict[str, Any]:
    return dict(FiguresSerializer(figures).data)


class JobEnergySerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=["measured", "estimated"])
    months = serializers.ListField(child=serializers.DateField())
    figures = FiguresSerializer()


def job_energy_data(energy: JobEnergy | None) -> dict[str, Any] | None:
    return None if energy is None else dict(JobEnergySerializer(energy).data)


class ReportRowSerializer(serializers.Serializer):
    month = serializers.DateField()
    gpu_type = serializers.CharField()
    kind = serializers.ChoiceField(choices=["job", "idle"])
    records = serializers.IntegerField()
    figures = FiguresSerializer()


class EnergyReportSerializer(serializers.Serializer):
    first_month = serializers.DateField()
    last_month = serializers.DateField()
    rows = ReportRowSerializer(many=True)
    jobs = serializers.SerializerMethodField()
    idle = serializers.SerializerMethodField()

    def get_jobs(self, report: EnergyReport) -> dict[str, Any]:
        return figures_data(report.total("job"))

    def get_idle(self, report: EnergyReport) -> dict[str, Any]:
        return figures_data(report.total("idle"))


class PublicMonthSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    gpu_hours = serializers.CharField()
    gpu_hours_by_tier = serializers.DictField(
        child=serializers.CharField(), help_text="priority tier (1-4) → GPU-hours"
    )
    european_academia_and_startups_share = serializers.CharField(allow_null=True)
    energy_kwh = serializers.CharField(help_text="facility energy, idle booked nodes included")
    idle_energy_kwh = serializers.CharField()
    it_energy_kwh = serializers.CharField()
    pue = serializers.CharField(allow_null=True)
    renewable_share = serializers.CharField(allow_null=True)
    heat_reused_kwh = serializers.CharField()
    emissions_kg = serializers.CharField()
    comparison_emissions_kg = serializers.CharField()
    emissions_avoided_kg = serializers.CharField()


class PublicFeedSerializer(serializers.Serializer):
    months = PublicMonthSerializer(many=True)
