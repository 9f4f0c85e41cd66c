"""The monthly PDF statement of an organisation: rendered by WeasyPrint, its text extracted
(pypdf) and checked; other tenants get 404; a server without Pango says what to install."""

import io
from datetime import date
from decimal import Decimal

import pypdf
import pytest
from django.urls import reverse

from booking.energy import statement
from booking.energy.accounting import booking_idle_energy_account, job_energy_account
from booking.energy.portal import views
from booking.models import GpuEnergyFactors
from tests.conftest import require_service
from tests.fixtures.energy import site_factors

pytestmark = pytest.mark.usefixtures("energy_site")


@pytest.fixture
def accounted(finished_job, finished_booking, energy_project):
    job_energy_account(job_id=finished_job("2026-03-10T08:00:00", hours=10, gpus=4).pk)
    measured = finished_job(
        "2026-03-12T00:00:00", hours=5, gpus=8, consumed_energy_joules=90_000_000
    )
    job_energy_account(job_id=measured.pk)
    booking_idle_energy_account(booking_id=finished_booking("2026-03-02T00:00:00", hours=10).pk)
    return energy_project.organisation


@pytest.fixture
def mid_month_change(energy_site):
    """PUE 1.3 from 20 March 2026 (after the jobs of the statement)."""
    return site_factors(date(2026, 3, 20), pue=Decimal("1.3"))


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def weasyprint_available() -> None:
    require_service(statement.pdf_renderer_missing() is None, "WeasyPrint's system libraries")


@pytest.mark.usefixtures("weasyprint_available")
def test_the_statement_states_the_figures_the_method_and_the_factors(
    api, alice, mid_month_change, accounted
):
    response = api(alice).get(
        f"/api/v1/energy/organisations/{accounted.pk}/statement.pdf", {"month": "2026-03"}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Energy and emissions statement" in text
    assert accounted.name in text
    assert "March 2026" in text
    assert "68.4" in text  # facility kWh of the jobs: 38.4 (estimated) + 30 (measured)
    assert "19.2" in text  # idle facility kWh: 80 GPU-h x 0.2 kW x 1.2
    assert "Measured by the cluster: 1 record" in text
    assert "Estimated from GPU power: 1 record" in text
    assert "2026-01-01" in text  # the factors in force at the start of March
    assert "2026-03-20" in text  # and from the change
    assert "1.3" in text
    assert "800" in text  # H100 node overhead (W)


def test_charlie_gets_404_for_alice_s_statement(api, charlie, accounted):
    url = f"/api/v1/energy/organisations/{accounted.pk}/statement.pdf"
    assert api(charlie).get(url, {"month": "2026-03"}).status_code == 404


def test_a_statement_needs_a_month(api, alice, accounted):
    response = api(alice).get(f"/api/v1/energy/organisations/{accounted.pk}/statement.pdf")
    assert response.status_code == 400
    assert "month" in response.json()["details"]


def test_without_pango_the_api_says_what_to_install(api, alice, accounted, monkeypatch):
    monkeypatch.setattr(statement, "pdf_renderer_missing", lambda: statement.INSTALL_HINT)
    response = api(alice).get(
        f"/api/v1/energy/organisations/{accounted.pk}/statement.pdf", {"month": "2026-03"}
    )
    assert response.status_code == 503
    assert response.json()["code"] == "pdf_unavailable"
    assert "libpango" in response.json()["message"]


def test_without_pango_the_page_says_what_to_install_instead_of_the_link(
    login, alice, accounted, monkeypatch
):
    monkeypatch.setattr(views, "pdf_renderer_missing", lambda: statement.INSTALL_HINT)
    page = login(alice).get(reverse("energy:organisation_energy", args=[accounted.pk])).content
    assert b"libpango-1.0-0" in page
    assert b"statement.pdf" not in page


@pytest.mark.usefixtures("weasyprint_available")
def test_the_organisation_page_links_the_statement(login, alice, accounted):
    url = reverse("energy:organisation_energy", args=[accounted.pk])
    page = login(alice).get(url, {"end": "2026-03"}).content.decode()
    assert f"/api/v1/energy/organisations/{accounted.pk}/statement.pdf?month=2026-03" in page


def test_the_statement_lists_the_factors_as_they_were_when_the_month_was_computed(accounted):
    factors = GpuEnergyFactors.objects.get()
    factors.node_overhead_watts = 1600  # corrected later, not yet recomputed
    factors.save()

    context = statement.statement_context(accounted, date(2026, 3, 1))

    assert [p.node_overhead_watts for _name, p in context["gpu_factors"]] == [800]
