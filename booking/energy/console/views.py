"""Staff console of the energy factors: every version in force by day, adding and correcting
versions (each save kept with who and why), and what to recompute after a correction."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.forms import ModelForm
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.console.access import StaffRequest, staff_required
from booking.energy.console.forms import GpuFactorsForm, SiteFactorsForm
from booking.energy.services import energy_factors_save, factor_history
from booking.models import GpuEnergyFactors, SiteEnergyFactors


@staff_required
def factor_list(request: StaffRequest) -> HttpResponse:
    context = {
        "site_rows": SiteEnergyFactors.objects.all(),
        "gpu_rows": GpuEnergyFactors.objects.select_related("gpu_type"),
        "history": factor_history(),
    }
    return render(request, "energy/console/factor_list.html", context)


def _edit(request: StaffRequest, form: ModelForm[Any], title: str) -> HttpResponse:
    if request.method == "POST" and form.is_valid():
        corrected = form.instance.pk is not None
        saved = energy_factors_save(
            factors=form.save(commit=False),
            staff=request.user,
            reason=form.cleaned_data["reason"],
        )
        if corrected:
            messages.warning(
                request,
                _(
                    "Saved. Figures already computed keep the old value until the months it "
                    "affects are recomputed: manage.py energy_recompute --from %(month)s "
                    '--to <last month> --reason "…"'
                )
                % {"month": f"{saved.effective_from:%Y-%m}"},
            )
        else:
            messages.success(
                request, _("Saved: in force from %(d)s.") % {"d": saved.effective_from}
            )
        return redirect("energy_console:factor_list")
    return render(request, "energy/console/factor_form.html", {"form": form, "title": title})


@staff_required
def site_factors_edit(request: StaffRequest, pk: int | None = None) -> HttpResponse:
    row = get_object_or_404(SiteEnergyFactors, pk=pk) if pk else None
    form = SiteFactorsForm(request.POST or None, instance=row)
    title = _("Correct the site factors") if row else _("New site factors")
    return _edit(request, form, title)


@staff_required
def gpu_factors_edit(request: StaffRequest, pk: int | None = None) -> HttpResponse:
    row = get_object_or_404(GpuEnergyFactors, pk=pk) if pk else None
    form = GpuFactorsForm(request.POST or None, instance=row)
    title = _("Correct a GPU type's power") if row else _("New power of a GPU type")
    return _edit(request, form, title)
