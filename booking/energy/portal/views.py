"""Energy pages: a project's and an organisation's energy per month (charts, table, exports)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from accounts.portal.access import AuthenticatedRequest
from booking.energy.charts import emissions_chart, energy_chart, public_tiers_chart
from booking.energy.periods import report_period
from booking.energy.portal.forms import PeriodForm
from booking.energy.public import public_months
from booking.energy.selectors import (
    EnergyReport,
    energy_organisation_of,
    energy_project_of,
    organisation_energy_report,
    project_energy_report,
)
from booking.energy.statement import pdf_renderer_missing


def _period(request: AuthenticatedRequest) -> tuple[date, date, PeriodForm]:
    """The period asked for, or the default one when the form shows errors."""
    form = PeriodForm(request.GET or None)
    if form.is_bound and form.is_valid():
        first, last = form.cleaned_data["period"]
    else:
        first, last = report_period({})
    return first, last, form


def _context(report: EnergyReport, form: PeriodForm) -> dict[str, Any]:
    query = urlencode({"from": f"{report.first_month:%Y-%m}", "to": f"{report.last_month:%Y-%m}"})
    return {
        "report": report,
        "jobs": report.total("job"),
        "idle": report.total("idle"),
        "energy_chart": energy_chart(report),
        "emissions_chart": emissions_chart(report),
        "form": form,
        "period_from": f"{report.first_month:%Y-%m}",
        "period_to": f"{report.last_month:%Y-%m}",
        "query": query,
    }


@login_required
def project_energy(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    project = energy_project_of(request.user, pk)
    first, last, form = _period(request)
    report = project_energy_report(project, first=first, last=last)
    context = _context(report, form) | {
        "project": project,
        "subject": project.name,
        "json_url": reverse("energy-project", args=[project.pk]),
        "csv_url": reverse("energy-project-csv", args=[project.pk]),
    }
    return render(request, "energy/project_energy.html", context)


@login_required
def organisation_energy(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    organisation = energy_organisation_of(request.user, pk)
    first, last, form = _period(request)
    report = organisation_energy_report(organisation, first=first, last=last)
    context = _context(report, form) | {
        "organisation": organisation,
        "subject": organisation.name,
        "json_url": reverse("energy-organisation", args=[organisation.pk]),
        "csv_url": reverse("energy-organisation-csv", args=[organisation.pk]),
        "statement_url": reverse("energy-organisation-statement", args=[organisation.pk]),
        "pdf_missing": pdf_renderer_missing(),
    }
    return render(request, "energy/organisation_energy.html", context)


def transparency(request: HttpRequest) -> HttpResponse:
    """The public page: the site's monthly figures, no login."""
    months = public_months()
    context = {"months": months, "tiers_chart": public_tiers_chart(months)}
    return render(request, "energy/transparency.html", context)
