"""The monthly energy statement of an organisation as a PDF (WeasyPrint): its energy,
emissions and heat reused per GPU type, the method of each figure and the factors in force,
for a startup to attach to its own AI Act documentation.

WeasyPrint needs Pango from the system. Where it is missing, everything else runs and
``pdf_renderer_missing`` says what to install (the page shows it instead of the link).
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Organisation
from booking.energy.accounting import next_month
from booking.energy.factors import FactorBook
from booking.energy.selectors import (
    organisation_computed_at,
    organisation_energy_report,
    organisation_methods,
)
from booking.models import EnergyMethod, EnergyRecomputation
from stargate_portal.errors import DomainError

STYLESHEET = Path(__file__).with_name("statement.css")
INSTALL_HINT = (
    "The PDF statement needs WeasyPrint's system libraries: on Debian or Ubuntu, "
    "apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0"
)


class PdfUnavailable(DomainError):
    status_code = 503
    code = "pdf_unavailable"


@cache
def pdf_renderer_missing() -> str | None:
    """None when PDFs can be made here; otherwise what to install."""
    try:
        import weasyprint  # noqa: F401 - loads Pango; absent libraries raise OSError
    except (ImportError, OSError):
        return INSTALL_HINT
    return None


def statement_context(organisation: Organisation, month: date) -> dict[str, Any]:
    report = organisation_energy_report(organisation, first=month, last=month)
    # The factors as they were stored when the month's figures were last computed.
    computed = organisation_computed_at(organisation, first=month, last=month)
    book = FactorBook(as_of=computed)
    last_day = next_month(month).toordinal() - 1
    methods = organisation_methods(organisation, first=month, last=month)
    return {
        "organisation": organisation,
        "month": month,
        "report": report,
        "jobs": report.total("job"),
        "idle": report.total("idle"),
        "methods": [(EnergyMethod(m).label, n) for m, n in methods.items()],
        "site_factors": book.site_rows_between(month, date.fromordinal(last_day)),
        "gpu_factors": book.gpu_rows_between(month, date.fromordinal(last_day)),
        "recomputations": EnergyRecomputation.objects.filter(
            first_month__lte=month, last_month__gte=month
        ).order_by("at"),
        "generated_at": timezone.now(),
    }


def statement_pdf(organisation: Organisation, month: date) -> bytes:
    """The statement of ``month`` as PDF bytes; PdfUnavailable where WeasyPrint cannot run."""
    missing = pdf_renderer_missing()
    if missing:
        raise PdfUnavailable(missing, details={"install": missing})
    from weasyprint import CSS, HTML

    html = render_to_string("energy/statement.html", statement_context(organisation, month))
    document = HTML(string=html)
    return bytes(document.write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))]))
