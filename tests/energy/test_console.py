"""Staff console of the energy factors: versions by day, corrections kept in the history with
who and why, and the reminder to recompute; nobody else gets in."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from booking.models import GpuEnergyFactors, SiteEnergyFactors

SITE_FORM = {
    "effective_from": "2026-06-01",
    "pue": "1.15",
    "renewable_share": "1",
    "renewable_gco2_per_kwh": "11",
    "residual_gco2_per_kwh": "300",
    "heat_reuse_share": "0.6",
    "heat_reuse_efficiency": "0.85",
    "comparison_gco2_per_kwh": "250",
    "comparison_grid": "EU average",
    "source": "",
    "reason": "new heat contract",
}


def test_staff_add_a_version_of_the_site_factors(login, staff, db):
    response = login(staff).post(reverse("energy_console:site_new"), SITE_FORM)

    assert response.status_code == 302
    row = SiteEnergyFactors.objects.get()
    assert (row.effective_from, row.pue) == (date(2026, 6, 1), Decimal("1.15"))
    entry = row.history.get()
    assert (entry.history_user, entry.history_change_reason) == (staff, "new heat contract")


def test_a_correction_is_kept_in_the_history_and_asks_for_a_recompute(login, staff, energy_site):
    client = login(staff)
    form = {**SITE_FORM, "effective_from": "2026-01-01", "pue": "1.25", "reason": "meter"}

    response = client.post(
        reverse("energy_console:site_edit", args=[energy_site.pk]), form, follow=True
    )

    page = response.content.decode()
    assert "energy_recompute --from 2026-01" in page
    assert [h.pue for h in energy_site.history.order_by("history_date")] == [
        Decimal("1.200"),
        Decimal("1.250"),
    ]
    assert "meter" in client.get(reverse("energy_console:factor_list")).content.decode()


def test_a_factor_out_of_range_is_a_form_error(login, staff, db):
    response = login(staff).post(reverse("energy_console:site_new"), {**SITE_FORM, "pue": "0.5"})

    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 1" in response.content.decode()
    assert not SiteEnergyFactors.objects.exists()


def test_idle_power_above_full_power_is_refused(login, staff, energy_gpu):
    form = {
        "gpu_type": energy_gpu.pk,
        "effective_from": "2026-06-01",
        "full_power_watts": "700",
        "idle_power_watts": "800",
        "node_overhead_watts": "800",
        "reason": "typo",
    }
    response = login(staff).post(reverse("energy_console:gpu_new"), form)

    assert response.status_code == 200
    assert GpuEnergyFactors.objects.count() == 1


@pytest.mark.parametrize("name", ["factor_list", "site_new", "gpu_new"])
def test_only_staff_open_the_energy_console(login, alice, name):
    response = login(alice).get(reverse(f"energy_console:{name}"))
    assert response.status_code in (403, 404)
