"""Energy reads: a job's, a project's or an organisation's records summed per month and GPU
type. Callers pass objects already scoped to the user (a project from ``projects_of``, an
organisation from ``organisation_of``): what they may not see is 404 before it gets here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Max, QuerySet, Sum
from django.shortcuts import get_object_or_404

from accounts.models import Organisation, User
from accounts.selectors import organisation_for_staff, organisation_of
from booking.energy.estimates import FIGURE_NAMES, Figures
from booking.models import (
    FINAL_STATES,
    EnergyKind,
    EnergyMethod,
    EnergyProjectMonthTotal,
    EnergyRecord,
    Job,
    Project,
)
from booking.permissions import projects_visible_to
from stargate_portal.permissions import is_staff


def _figures(row: Any) -> Figures:
    return Figures(**{name: row.get(name) or Decimal(0) for name in FIGURE_NAMES})


SUMS = {name: Sum(name) for name in FIGURE_NAMES}


@dataclass(frozen=True)
class JobEnergy:
    method: str
    months: list[date]
    figures: Figures

    @property
    def method_label(self) -> str:
        return str(EnergyMethod(self.method).label)


def job_energy(job: Job) -> JobEnergy | None:
    """The energy of the job's latest run; None until it is accounted (one query; none while
    the job is not final, as only a finished run is accounted)."""
    if job.state not in FINAL_STATES:
        return None
    rows = list(
        EnergyRecord.objects.filter(job=job, attempt=job.attempt)
        .order_by("month")
        .values("month", "method", *FIGURE_NAMES)
    )
    if not rows:
        return None
    figures = Figures(**{name: sum((r[name] for r in rows), Decimal(0)) for name in FIGURE_NAMES})
    return JobEnergy(method=rows[0]["method"], months=[r["month"] for r in rows], figures=figures)


@dataclass(frozen=True)
class ReportRow:
    month: date
    gpu_type: str
    kind: str
    records: int
    figures: Figures


@dataclass
class EnergyReport:
    """Rows per month, GPU type and kind (job or idle), and the totals of each kind."""

    first_month: date
    last_month: date
    rows: list[ReportRow] = field(default_factory=list)

    def total(self, kind: str = EnergyKind.JOB) -> Figures:
        chosen = [r.figures for r in self.rows if r.kind == kind]
        return Figures(
            **{name: sum((getattr(f, name) for f in chosen), Decimal(0)) for name in FIGURE_NAMES}
        )

    @property
    def months(self) -> list[date]:
        return sorted({r.month for r in self.rows})

    @property
    def gpu_types(self) -> list[str]:
        return sorted({r.gpu_type for r in self.rows})


def _report(totals: QuerySet[EnergyProjectMonthTotal], first: date, last: date) -> EnergyReport:
    """From the monthly totals (``booking/energy/totals.py``): a row per project, month, GPU
    type, kind and method at most, never the records (a year of the site is tens of millions)."""
    grouped = (
        totals.filter(month__gte=first, month__lte=last)
        .values("month", "gpu_type__name", "kind")
        .annotate(records=Sum("records"), **SUMS)
        .order_by("month", "gpu_type__name", "kind")
    )
    rows = [
        ReportRow(
            month=row["month"],
            gpu_type=row["gpu_type__name"],
            kind=row["kind"],
            records=row["records"],
            figures=_figures(row),
        )
        for row in grouped
    ]
    return EnergyReport(first_month=first, last_month=last, rows=rows)


def project_energy_report(project: Project, *, first: date, last: date) -> EnergyReport:
    """The project's energy per month and GPU type, months ``first`` to ``last``."""
    return _report(EnergyProjectMonthTotal.objects.filter(project=project), first, last)


def organisation_energy_report(
    organisation: Organisation, *, first: date, last: date
) -> EnergyReport:
    """The organisation's energy (all its projects) per month and GPU type."""
    return _report(EnergyProjectMonthTotal.objects.filter(organisation=organisation), first, last)


def organisation_methods(organisation: Organisation, *, first: date, last: date) -> dict[str, int]:
    """How many records of each method the period holds (the statement states it)."""
    rows = (
        _organisation_totals(organisation, first, last)
        .values("method")
        .annotate(n=Sum("records"))
        .order_by("method")
    )
    return {row["method"]: row["n"] for row in rows}


def organisation_computed_at(organisation: Organisation, *, first: date, last: date) -> Any:
    """When the period's figures were last computed (the latest record's time), or None."""
    return _organisation_totals(organisation, first, last).aggregate(at=Max("computed_at"))["at"]


def _organisation_totals(
    organisation: Organisation, first: date, last: date
) -> QuerySet[EnergyProjectMonthTotal]:
    return EnergyProjectMonthTotal.objects.filter(
        organisation=organisation, month__gte=first, month__lte=last
    )


def energy_project_of(user: User, pk: int) -> Project:
    """A project whose energy the user may read (its members, staff); 404 otherwise."""
    return get_object_or_404(projects_visible_to(user), pk=pk)


def energy_organisation_of(user: User, pk: int) -> Organisation:
    """An organisation whose energy the user may read (its members, staff); 404 otherwise."""
    return organisation_for_staff(pk) if is_staff(user) else organisation_of(user, pk)
