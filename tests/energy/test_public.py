"""The public transparency page and its JSON feed: site-wide monthly figures from the monthly
totals, without login, never naming a tenant, project or person."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import OrganisationKind
from booking.energy.accounting import booking_idle_energy_account, job_energy_account
from booking.energy.public import public_months_compute
from booking.models import EnergyRecord, ProjectMember, ProjectRole
from tests.factories import OrganisationFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.usefixtures("energy_site")
D = Decimal
PLANTED = "zqxplanted"


@pytest.fixture
def site_month(finished_job, finished_booking, energy_project, bob):
    """March 2026: alice's academic project 40 GPU-h, bob's startup 20 GPU-h, an international
    company 60 GPU-h, and alice's booking idle for 60 GPU-h; every name is planted."""
    energy_project.name = f"{PLANTED} academic project"
    energy_project.save()
    energy_project.organisation.name = f"{PLANTED} university"
    energy_project.organisation.save()
    bob_project = ProjectFactory(
        name=f"{PLANTED} startup", organisation=bob.memberships.get().organisation
    )
    ProjectMember.objects.create(project=bob_project, user=bob, role=ProjectRole.PI)
    foreign = OrganisationFactory(
        name=f"{PLANTED} Inc", kind=OrganisationKind.COMPANY, country="US"
    )
    foreign_project = ProjectFactory(name=f"{PLANTED} foreign", organisation=foreign)
    person = UserFactory(email=f"{PLANTED}@example.com")
    for project, gpus, hours in [
        (energy_project, 4, 10),
        (bob_project, 2, 10),
        (foreign_project, 6, 10),
    ]:
        job = finished_job(
            "2026-03-10T00:00:00", hours=hours, gpus=gpus, project=project, name=f"{PLANTED} job"
        )
        job.submitted_by = person
        job.save()
        job_energy_account(job_id=job.pk)
    booking = finished_booking("2026-03-12T00:00:00", hours=10)
    booking.name = f"{PLANTED} booking"
    booking.save()
    booking_idle_energy_account(booking_id=booking.pk)


def test_the_public_figures_of_a_month(site_month):
    (march,) = public_months_compute()

    assert march.gpu_hours_by_tier == {1: D(40), 2: D(20), 4: D(60)}
    assert march.european_priority_share == D("0.5")  # 60 of 120 GPU-hours
    # jobs: 120 GPU-h x 0.8 kW = 96 kWh IT; idle: 80 GPU-h x 0.2 kW = 16 kWh IT
    assert march.it_kwh == D(112)
    assert march.facility_kwh == D("134.4")
    assert march.pue == D("1.2")
    assert march.renewable_share == D("0.9")
    assert march.heat_reused_kwh == D("53.76")
    assert march.emissions_avoided_kg == D("33.6") - D("5.2416")


def test_the_public_figures_equal_the_sums_of_the_records(site_month):
    (march,) = public_months_compute()
    records = EnergyRecord.objects.filter(month="2026-03-01")
    assert march.facility_kwh == sum(r.facility_kwh for r in records)
    assert march.gpu_hours == sum(r.gpu_hours for r in records if r.kind == "job")
    assert march.emissions_kg == sum(r.emissions_kg for r in records)


def test_the_public_page_needs_no_login_and_names_nobody(client, site_month):
    response = client.get(reverse("energy:transparency"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "2026-03" in page
    assert "50 %" in page  # to European academia and startups
    assert "134.4" in page
    assert PLANTED not in page.lower()
    assert "bob" not in page.lower()


def test_the_json_feed_needs_no_login_and_names_nobody(api, site_month):
    response = api(None).get("/api/v1/transparency/")

    body = response.json()
    assert response.status_code == 200
    assert "public" in response["Cache-Control"]
    (march,) = body["months"]
    assert march["month"] == "2026-03"
    assert march["gpu_hours_by_tier"] == {
        "1": "40.000000",
        "2": "20.000000",
        "3": "0.000000",
        "4": "60.000000",
    }
    assert D(march["european_academia_and_startups_share"]) == D("0.5")
    assert PLANTED not in response.content.decode().lower()


def test_the_public_page_is_served_from_the_cache(
    client, site_month, django_assert_max_num_queries
):
    client.get(reverse("energy:transparency"))
    with django_assert_max_num_queries(0):
        client.get("/api/v1/transparency/")


def test_an_empty_site_says_so(client, db):
    page = client.get(reverse("energy:transparency")).content.decode()
    assert "No month has been accounted yet" in page
