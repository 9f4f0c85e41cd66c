"""Console forms of the energy factors: a version of the site's factors or of a GPU type's
power, with the reason kept in the history."""

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.models import GpuEnergyFactors, SiteEnergyFactors


class SiteFactorsForm(forms.ModelForm):
    reason = forms.CharField(label=_("Reason"), max_length=100)

    class Meta:
        model = SiteEnergyFactors
        fields = (
            "effective_from",
            "pue",
            "renewable_share",
            "renewable_gco2_per_kwh",
            "residual_gco2_per_kwh",
            "heat_reuse_share",
            "heat_reuse_efficiency",
            "comparison_gco2_per_kwh",
            "comparison_grid",
            "source",
        )
        widgets = {"effective_from": forms.DateInput(attrs={"type": "date"})}


class GpuFactorsForm(forms.ModelForm):
    reason = forms.CharField(label=_("Reason"), max_length=100)

    class Meta:
        model = GpuEnergyFactors
        fields = (
            "gpu_type",
            "effective_from",
            "full_power_watts",
            "idle_power_watts",
            "node_overhead_watts",
        )
        widgets = {"effective_from": forms.DateInput(attrs={"type": "date"})}
