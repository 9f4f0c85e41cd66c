"""End to end in a real browser: alice opens her project's energy page from the project page
(charts and the table of a month), then anyone opens the public transparency page from the
footer, without logging in, and finds the site's month and no tenant's name."""

import pytest
from django.urls import reverse

from booking.energy.accounting import booking_idle_energy_account, job_energy_account
from tests.e2e.test_submit_job import log_in, log_out

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("energy_site")]


@pytest.fixture
def accounted(finished_job, finished_booking, energy_project):
    job_energy_account(job_id=finished_job("2026-03-10T08:00:00", hours=10, gpus=4).pk)
    job_energy_account(job_id=finished_job("2026-03-31T20:00:00", hours=10, gpus=1).pk)
    booking_idle_energy_account(booking_id=finished_booking("2026-03-02T00:00:00", hours=10).pk)
    return energy_project


def test_a_pi_reads_the_project_energy_and_anyone_the_public_page(
    page, screenshot, alice, accounted
):
    log_in(page, "alice@uio.no")
    page.goto(reverse("grants:project_detail", args=[accounted.pk]))
    page.get_by_role("link", name="Energy", exact=True).click()
    page.get_by_role("heading", name=f"Energy of {accounted.name}").wait_for()
    page.get_by_label("From (YYYY-MM)").fill("2026-02")
    page.get_by_label("To (YYYY-MM)").fill("2026-04")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("heading", name="From 2026-02 to 2026-04").wait_for()
    assert page.locator("#energy-chart rect").count() == 3  # March jobs, March idle, April
    assert page.locator("#emissions-chart rect").count() == 4  # 2 months x (here, grid)
    assert page.locator("table.energy-table tbody tr").count() == 3
    assert "42.24" in page.locator("table.energy-table").inner_text()
    screenshot("energy-01-project")

    log_out(page)
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Energy and carbon transparency").click()
    page.get_by_role("heading", name="Energy and carbon transparency").wait_for()
    table = page.locator("table.transparency-table").inner_text()
    assert "2026-04" in table
    assert "2026-03" in table
    assert "100 %" in table  # every GPU-hour to European academia (alice)
    assert accounted.name not in page.content()
    assert "University of Oslo" not in page.content()
    screenshot("energy-02-public")
