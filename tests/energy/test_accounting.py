"""Hand-computed energy of jobs and idle bookings (factors in tests/energy/conftest.py).

H100 at full use: 700 W + 800 W / 8 GPUs = 800 W per GPU; idle: 100 W + 100 W = 200 W.
Site: PUE 1.2, renewable 90 %, 0.9 x 10 + 0.1 x 300 = 39 gCO2e/kWh, heat reused 0.5 x 0.8,
comparison grid 250 gCO2e/kWh.
"""

from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command

from booking.energy.accounting import booking_idle_energy_account, job_energy_account
from booking.energy.estimates import FIGURE_NAMES, request_energy_kwh
from booking.energy.factors import FactorBook
from booking.models import (
    EnergyMethod,
    EnergyMonthTotal,
    EnergyProjectMonthTotal,
    EnergyRecomputation,
    EnergyRecord,
    GpuEnergyFactors,
)
from tests.fixtures.energy import at, site_factors

pytestmark = pytest.mark.usefixtures("energy_site")
D = Decimal


def figures(record: EnergyRecord) -> dict[str, Decimal]:
    return {name: getattr(record, name).normalize() for name in FIGURE_NAMES}


def test_an_estimated_job_is_gpu_hours_times_power_with_node_overhead(finished_job):
    job = finished_job("2026-03-10T08:00:00", hours=10, gpus=4)

    assert job_energy_account(job_id=job.pk) == 1

    record = EnergyRecord.objects.get(job=job)
    assert record.method == EnergyMethod.ESTIMATED
    assert record.month.isoformat() == "2026-03-01"
    assert record.tier == 1
    assert figures(record) == {
        "gpu_hours": D(40),  # 4 GPUs x 10 h
        "it_kwh": D(32),  # 40 GPU-h x 800 W
        "facility_kwh": D("38.4"),  # x PUE 1.2
        "renewable_kwh": D("34.56"),  # x 0.9
        "emissions_kg": D("1.4976"),  # 38.4 kWh x 39 g
        "heat_reused_kwh": D("15.36"),  # 38.4 x 0.5 x 0.8
        "comparison_emissions_kg": D("9.6"),  # 38.4 x 250 g
    }


def test_a_measured_job_uses_the_energy_the_cluster_reported(finished_job):
    job = finished_job("2026-03-10T08:00:00", hours=5, gpus=8, consumed_energy_joules=90_000_000)

    job_energy_account(job_id=job.pk)

    record = EnergyRecord.objects.get(job=job)
    assert record.method == EnergyMethod.MEASURED
    assert figures(record) == {
        "gpu_hours": D(40),
        "it_kwh": D(25),  # 90 MJ / 3.6 MJ per kWh
        "facility_kwh": D(30),
        "renewable_kwh": D(27),
        "emissions_kg": D("1.17"),
        "heat_reused_kwh": D(12),
        "comparison_emissions_kg": D("7.5"),
    }


def test_pue_and_heat_reuse_scale_the_facility_energy_and_the_heat(finished_job):
    site_factors(
        at("2026-05-01T00:00:00").date(),
        pue=D("1.5"),
        heat_reuse_share=D(1),
        heat_reuse_efficiency=D("0.9"),
        renewable_share=D(1),
    )
    job = finished_job("2026-05-02T00:00:00", hours=12.5, gpus=1)  # 12.5 GPU-h x 800 W = 10 kWh

    job_energy_account(job_id=job.pk)

    record = EnergyRecord.objects.get(job=job)
    assert record.it_kwh == D(10)
    assert record.facility_kwh == D(15)  # x 1.5
    assert record.heat_reused_kwh == D("13.5")  # 15 x 1 x 0.9
    assert record.renewable_kwh == D(15)
    assert record.emissions_kg == D("0.15")  # all renewable: 15 kWh x 10 g


def test_a_factor_change_in_the_middle_of_a_month_applies_from_its_day(finished_job):
    site_factors(at("2026-03-16T00:00:00").date(), pue=D("1.5"))
    before = finished_job("2026-03-05T00:00:00", hours=24, gpus=2)
    across = finished_job("2026-03-15T12:00:00", hours=24, gpus=2)
    after = finished_job("2026-03-20T00:00:00", hours=24, gpus=2)

    for job in (before, across, after):
        job_energy_account(job_id=job.pk)

    facility = {j.pk: EnergyRecord.objects.get(job=j).facility_kwh for j in (before, across, after)}
    assert facility[before.pk] == D("46.08")  # 48 GPU-h x 0.8 kW = 38.4 kWh x 1.2
    assert facility[after.pk] == D("57.6")  # 38.4 x 1.5
    assert facility[across.pk] == D("51.84")  # 19.2 x 1.2 + 19.2 x 1.5


def test_a_job_spanning_two_months_is_split_by_runtime(finished_job):
    job = finished_job("2026-03-31T20:00:00", hours=10, gpus=1)

    assert job_energy_account(job_id=job.pk) == 2

    march, april = EnergyRecord.objects.filter(job=job).order_by("month")
    assert (march.month.isoformat(), march.gpu_hours, march.it_kwh) == (
        "2026-03-01",
        D(4),
        D("3.2"),
    )
    assert (april.month.isoformat(), april.gpu_hours, april.it_kwh) == (
        "2026-04-01",
        D(6),
        D("4.8"),
    )
    assert march.facility_kwh + april.facility_kwh == D("9.6")  # 8 kWh x 1.2
    assert march.ended_at == april.started_at == at("2026-04-01T00:00:00")


def test_a_booking_s_unused_gpu_hours_are_idle_energy(finished_job, finished_booking):
    booking = finished_booking("2026-03-02T00:00:00", hours=10)  # 1 node: 80 GPU-h booked
    finished_job("2026-03-02T01:00:00", hours=5, gpus=4, booking=booking)  # 20 used

    assert booking_idle_energy_account(booking_id=booking.pk) == 1

    record = EnergyRecord.objects.get(booking=booking)
    assert (record.kind, record.method) == ("idle", "idle")
    assert record.gpu_hours == D(60)
    assert record.it_kwh == D(12)  # 60 GPU-h x (100 W idle + 100 W overhead)
    assert record.facility_kwh == D("14.4")


def test_a_job_is_never_counted_twice(finished_job):
    job = finished_job("2026-03-31T20:00:00", hours=10, gpus=1)

    assert job_energy_account(job_id=job.pk) == 2
    assert job_energy_account(job_id=job.pk) == 0

    assert EnergyRecord.objects.filter(job=job).count() == 2
    assert sum(t.records for t in EnergyMonthTotal.objects.all()) == 2


def test_a_requeued_job_s_second_run_is_counted_as_its_own_attempt(finished_job):
    job = finished_job("2026-03-10T00:00:00", hours=1, gpus=1)
    job_energy_account(job_id=job.pk)
    job.attempt = 2
    job.save()

    assert job_energy_account(job_id=job.pk) == 1
    assert sorted(EnergyRecord.objects.filter(job=job).values_list("attempt", flat=True)) == [1, 2]


def test_monthly_totals_equal_the_sums_of_the_records(finished_job, finished_booking):
    for start, hours, gpus in [
        ("2026-02-27T00:00:00", 100, 3),
        ("2026-03-10T00:00:00", 7, 8),
        ("2026-03-31T23:00:00", 2, 1),
    ]:
        job_energy_account(job_id=finished_job(start, hours=hours, gpus=gpus).pk)
    booking_idle_energy_account(booking_id=finished_booking("2026-03-03T00:00:00", hours=5).pk)

    for month in EnergyRecord.objects.values_list("month", flat=True).distinct():
        records = EnergyRecord.objects.filter(month=month)
        totals = EnergyMonthTotal.objects.filter(month=month)
        for name in FIGURE_NAMES:
            assert sum(getattr(t, name) for t in totals) == sum(getattr(r, name) for r in records)
        assert sum(t.records for t in totals) == records.count()
    assert_project_totals_match_the_records()


def assert_project_totals_match_the_records() -> None:
    """Each project total row is the sum of its records, and every record is in one."""
    key = ("organisation_id", "project_id", "month", "gpu_type_id", "kind", "method")
    expected: dict[tuple, dict] = {}
    for record in EnergyRecord.objects.all():
        row = expected.setdefault(
            tuple(getattr(record, name) for name in key),
            {**dict.fromkeys(FIGURE_NAMES, D(0)), "records": 0, "computed_at": None},
        )
        for name in FIGURE_NAMES:
            row[name] += getattr(record, name)
        row["records"] += 1
        row["computed_at"] = max(filter(None, (row["computed_at"], record.computed_at)))
    stored = {
        tuple(getattr(total, name) for name in key): {
            **{name: getattr(total, name) for name in FIGURE_NAMES},
            "records": total.records,
            "computed_at": total.computed_at,
        }
        for total in EnergyProjectMonthTotal.objects.all()
    }
    assert len(expected) >= 2
    assert stored == expected


def test_recomputing_a_period_changes_exactly_its_months(finished_job, capsys):
    feb = finished_job("2026-02-10T00:00:00", hours=10, gpus=1)
    span = finished_job("2026-03-31T20:00:00", hours=10, gpus=1)
    for job in (feb, span):
        job_energy_account(job_id=job.pk)
    kept = {r.pk: figures(r) for r in EnergyRecord.objects.exclude(month="2026-03-01")}
    GpuEnergyFactors.objects.filter(effective_from="2026-01-01").update(full_power_watts=900)

    call_command("energy_recompute", "--from", "2026-03", "--to", "2026-03", "--reason", "meter")

    march = EnergyRecord.objects.get(month="2026-03-01")
    assert march.it_kwh == D("4")  # 4 GPU-h x (900 + 100) W, was 3.2
    assert {r.pk: figures(r) for r in EnergyRecord.objects.exclude(month="2026-03-01")} == kept
    march_total = EnergyMonthTotal.objects.get(month="2026-03-01")
    assert march_total.it_kwh == D(4)
    assert EnergyMonthTotal.objects.get(month="2026-04-01").it_kwh == D("4.8")
    assert EnergyProjectMonthTotal.objects.get(month="2026-03-01").it_kwh == D(4)
    assert EnergyProjectMonthTotal.objects.get(month="2026-04-01").it_kwh == D("4.8")
    assert_project_totals_match_the_records()
    out = capsys.readouterr().out
    assert "1 records changed" in out
    assert "it_kwh" in out
    assert "3.200000" in out
    assert "4.000000" in out


def test_the_recomputation_is_audited_with_the_totals_before_and_after(finished_job):
    job_energy_account(job_id=finished_job("2026-03-10T00:00:00", hours=10, gpus=1).pk)
    GpuEnergyFactors.objects.update(node_overhead_watts=0)

    call_command(
        "energy_recompute", "--from", "2026-03", "--to", "2026-03", "--reason", "fix", "--by", "ops"
    )

    audit = EnergyRecomputation.objects.get()
    assert (audit.reason, audit.requested_by, audit.records_changed) == ("fix", "ops", 1)
    assert D(audit.totals_before["it_kwh"]) == D(8)
    assert D(audit.totals_after["it_kwh"]) == D(7)


def test_the_factors_book_falls_back_to_the_settings_before_the_first_row(settings, energy_gpu):
    settings.SITE_PUE = 1.3
    book = FactorBook()
    assert book.site_at(at("2025-06-01T00:00:00")).pue == D("1.3")
    assert book.gpu_at(energy_gpu, at("2025-06-01T00:00:00")).full_power_watts == 700


def test_an_application_s_estimate_is_the_same_formula_as_an_estimated_job(
    finished_job, energy_gpu
):
    job = finished_job("2026-03-10T08:00:00", hours=10, gpus=4)
    job_energy_account(job_id=job.pk)
    with time_machine.travel(at("2026-03-10T12:00:00")):
        estimate = request_energy_kwh([(energy_gpu, D(40))])

    assert estimate == EnergyRecord.objects.get(job=job).facility_kwh == D("38.4")
