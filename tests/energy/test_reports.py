"""Project and organisation reports: per month and GPU type, charts, CSV/JSON exports; other
tenants get 404."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from booking.energy.accounting import booking_idle_energy_account, job_energy_account
from booking.energy.statement import statement_context
from booking.energy.totals import month_totals_rebuild
from booking.models import EnergyMethod, EnergyProjectMonthTotal, EnergyRecord
from tests.factories import GpuTypeFactory, ProjectFactory

pytestmark = pytest.mark.usefixtures("energy_site")
D = Decimal
PERIOD = {"from": "2026-02", "to": "2026-04"}


@pytest.fixture
def accounted(finished_job, finished_booking, energy_project, alice):
    job_energy_account(job_id=finished_job("2026-03-10T08:00:00", hours=10, gpus=4).pk)
    job_energy_account(job_id=finished_job("2026-03-31T20:00:00", hours=10, gpus=1).pk)
    booking_idle_energy_account(booking_id=finished_booking("2026-03-02T00:00:00", hours=10).pk)
    other = ProjectFactory(name="Second project", organisation=energy_project.organisation)
    a100 = GpuTypeFactory(name="A100", power_watts=400)
    job = finished_job("2026-04-02T00:00:00", hours=10, gpus=2, project=other, gpu_type=a100)
    job_energy_account(job_id=job.pk)
    return energy_project


def test_the_project_report_sums_per_month_and_gpu_type_with_idle_apart(api, alice, accounted):
    body = api(alice).get(f"/api/v1/energy/projects/{accounted.pk}/", PERIOD).json()

    rows = {(r["month"], r["gpu_type"], r["kind"]): r for r in body["rows"]}
    assert set(rows) == {
        ("2026-03-01", "H100", "job"),
        ("2026-03-01", "H100", "idle"),
        ("2026-04-01", "H100", "job"),
    }
    march = rows[("2026-03-01", "H100", "job")]
    assert march["records"] == 2
    assert D(march["figures"]["it_kwh"]) == D("35.2")  # 32 + 3.2 (the March part)
    assert D(body["jobs"]["it_kwh"]) == D(40)  # 32 + 8
    assert D(body["idle"]["it_kwh"]) == D(16)  # 80 GPU-h idle x 200 W


def test_the_organisation_report_adds_every_project_of_it(api, alice, accounted):
    organisation = accounted.organisation
    body = api(alice).get(f"/api/v1/energy/organisations/{organisation.pk}/", PERIOD).json()

    a100 = [r for r in body["rows"] if r["gpu_type"] == "A100"]
    assert len(a100) == 1
    assert D(a100[0]["figures"]["gpu_hours"]) == D(20)
    assert D(a100[0]["figures"]["it_kwh"]) == D(8)  # 20 GPU-h x 400 W (no factors: defaults)
    assert D(body["jobs"]["it_kwh"]) == D(48)


def test_the_csv_export_has_a_row_per_month_gpu_type_and_kind(api, alice, accounted):
    response = api(alice).get(f"/api/v1/energy/projects/{accounted.pk}/csv/", PERIOD)

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["month"], r["kind"]) for r in rows] == [
        ("2026-03", "idle"),
        ("2026-03", "job"),
        ("2026-04", "job"),
    ]
    assert D(rows[1]["facility_kwh"]) == D("42.24")  # 35.2 x 1.2


def test_a_month_that_is_not_a_month_is_a_400_with_the_error_shape(api, alice, accounted):
    response = api(alice).get(f"/api/v1/energy/projects/{accounted.pk}/", {"from": "March"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "from" in response.json()["details"]


def test_a_period_that_ends_before_it_starts_is_refused(api, alice, accounted):
    response = api(alice).get(
        f"/api/v1/energy/projects/{accounted.pk}/csv/", {"from": "2026-05", "to": "2026-01"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["projects", "organisations"])
def test_charlie_gets_404_for_alice_s_energy(api, charlie, accounted, path):
    pk = accounted.pk if path == "projects" else accounted.organisation_id
    assert api(charlie).get(f"/api/v1/energy/{path}/{pk}/", PERIOD).status_code == 404
    assert api(charlie).get(f"/api/v1/energy/{path}/{pk}/csv/", PERIOD).status_code == 404


def test_staff_read_any_organisation_s_energy(api, staff, accounted):
    url = f"/api/v1/energy/organisations/{accounted.organisation_id}/"
    assert D(api(staff).get(url, PERIOD).json()["jobs"]["it_kwh"]) == D(48)


def test_the_project_energy_page_has_the_charts_and_the_table(login, alice, accounted):
    url = reverse("energy:project_energy", args=[accounted.pk])
    page = login(alice).get(url, {"start": "2026-02", "end": "2026-04"}).content.decode()

    assert 'id="energy-chart"' in page
    assert 'id="emissions-chart"' in page
    assert "2026-03" in page
    assert "42.24" in page  # March facility energy of H100 jobs
    assert "booked, idle" in page
    assert "Download CSV" in page


def test_a_wrong_month_on_the_page_is_a_form_error(login, alice, accounted):
    url = reverse("energy:project_energy", args=[accounted.pk])
    response = login(alice).get(url, {"start": "2026-13"})

    assert response.status_code == 200
    assert "A month as YYYY-MM" in response.content.decode()


def test_charlie_gets_404_for_the_energy_pages(login, charlie, accounted):
    client = login(charlie)
    assert client.get(reverse("energy:project_energy", args=[accounted.pk])).status_code == 404
    org_url = reverse("energy:organisation_energy", args=[accounted.organisation_id])
    assert client.get(org_url).status_code == 404


def test_the_organisation_page_shows_every_project(login, alice, accounted):
    url = reverse("energy:organisation_energy", args=[accounted.organisation_id])
    page = login(alice).get(url, {"start": "2026-02", "end": "2026-04"}).content.decode()
    assert "A100" in page
    assert "H100" in page


def test_the_report_costs_the_same_queries_however_many_records(
    api, alice, accounted, finished_job, django_assert_max_num_queries
):
    client = api(alice)
    url = f"/api/v1/energy/organisations/{accounted.organisation_id}/"
    client.get(url, PERIOD)  # warm the session and the user
    for hours in range(1, 30):
        job_energy_account(job_id=finished_job("2026-03-15T00:00:00", hours=hours, gpus=1).pk)

    with django_assert_max_num_queries(6):
        assert client.get(url, PERIOD).status_code == 200


def test_reports_and_statements_read_the_monthly_totals_never_the_records(
    api, login, alice, accounted
):
    """A year of the site is tens of millions of records: a report that summed an
    organisation's records would grow with them."""
    organisation = accounted.organisation_id
    with CaptureQueriesContext(connection) as queries:
        org = api(alice).get(f"/api/v1/energy/organisations/{organisation}/", PERIOD)
        project = api(alice).get(f"/api/v1/energy/projects/{accounted.pk}/", PERIOD)
        page = login(alice).get(
            reverse("energy:organisation_energy", args=[organisation]),
            {"start": "2026-02", "end": "2026-04"},
        )
        context = statement_context(accounted.organisation, date(2026, 3, 1))

    assert (org.status_code, project.status_code, page.status_code) == (200, 200, 200)
    assert [q["sql"] for q in queries if "booking_energyrecord" in q["sql"]] == []
    march = EnergyRecord.objects.filter(organisation_id=organisation, month="2026-03-01")
    assert context["jobs"].it_kwh == sum(r.it_kwh for r in march if r.kind == "job") > 0
    assert dict(context["methods"]) == {
        EnergyMethod(m).label: march.filter(method=m).count()
        for m in march.values_list("method", flat=True).distinct()
    }


def test_rebuilt_totals_are_the_totals_the_records_were_added_to(accounted):
    """As a recomputation, and the migration that made the project totals, build them."""
    kept = list(EnergyProjectMonthTotal.objects.order_by("month", "pk").values(*TOTAL_FIELDS))
    months = sorted(set(EnergyRecord.objects.values_list("month", flat=True)))

    month_totals_rebuild(months)

    rebuilt = list(EnergyProjectMonthTotal.objects.order_by("month", "pk").values(*TOTAL_FIELDS))
    assert len(kept) >= 3
    assert sorted(rebuilt, key=repr) == sorted(kept, key=repr)


TOTAL_FIELDS = (
    *("organisation_id", "project_id", "month", "gpu_type_id", "kind", "method"),
    *("records", "computed_at", "gpu_hours", "it_kwh", "emissions_kg"),
)
