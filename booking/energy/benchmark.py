"""Energy reports on PostgreSQL at full size: 1,000,000 job energy records.

Run ``DATABASE_URL=postgres://… python -m booking.energy.benchmark [--records 1000000]``.
It creates a scratch database ``<name>_energy_bench`` next to the one DATABASE_URL names
(dropped at the end unless ``--keep``), migrates it and fills it in SQL (generate_series):
three GPU types with their factors, 200 organisations of every tier with 10 projects each
(one large organisation holds 500 projects, a quarter of all), ``--records`` finished jobs
spread evenly over twelve months with one energy record each, and the monthly totals rebuilt
from the records. Then it times, each the median of ``--repeat`` runs:

- *organisation report*: ``organisation_energy_report`` of the large organisation for one
  month and for twelve months, and the same through ``GET /api/v1/energy/organisations/…/``;
- *public aggregates*: ``public_months_compute`` (what the public page and its feed show, the
  cache bypassed);
- *accounting*: ``job_energy_account`` of a job that just ended (records and totals written);
- *keeping the totals right*: ``month_totals_rebuild`` of one month, and ``energy_recompute``
  of one month (every record of the month computed again).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from stargate_portal.scratch_databases import postgres_url_or_skip, scratch_django_database

ORGANISATIONS = 200
PROJECTS_PER_ORGANISATION = 10
LARGE_PROJECTS = 500
FIRST_MONTH = date(2025, 12, 1)
MONTHS = 12


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=1_000_000, help="job energy records")
    parser.add_argument("--repeat", type=int, default=11, help="runs per timed read")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--skip-recompute", action="store_true", help="do not time a recompute")
    args = parser.parse_args(argv)
    url = postgres_url_or_skip("energy benchmark")
    if url is None:
        return 0
    with scratch_django_database(url, "energy_bench", keep=args.keep):
        for line in run(
            records=args.records, repeat=args.repeat, recompute=not args.skip_recompute
        ):
            print(line, flush=True)
    return 0


def run(*, records: int, repeat: int, recompute: bool = True) -> list[str]:
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    started = time.perf_counter()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    site = build_site(records=records)
    lines = [
        f"load before: {load}",
        f"site: {ORGANISATIONS} organisations, {site['projects']:,} projects, "
        f"{site['records']:,} job energy records over {MONTHS} months, "
        f"{site['totals']:,} monthly total rows",
        f"database build: {time.perf_counter() - started:.1f} s",
    ]
    lines += _time_reports(site, repeat)
    lines += _time_writes(site, recompute)
    lines.append("load after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return lines


def build_site(*, records: int) -> dict[str, Any]:
    """Organisations, projects, GPU types and factors by the ORM; jobs and records in SQL."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Organisation, OrganisationKind, User, VerificationState
    from booking.models import EnergyMonthTotal, EnergyRecord, GpuType, Project

    user = User.objects.create(email="staff@bench.example", is_staff=True)
    kinds = [OrganisationKind.UNIVERSITY, OrganisationKind.COMPANY]
    organisations = Organisation.objects.bulk_create(
        Organisation(
            name=f"Organisation {n}",
            kind=kinds[n % 2],
            country=("NO", "DE", "FR", "US")[n % 4],
            verification_state=VerificationState.VERIFIED,
            verification_decided_at=timezone.now(),
            founded_on=date(2022 if n % 3 else 1990, 1, 1),
        )
        for n in range(ORGANISATIONS)
    )
    projects = [
        Project(
            name=f"Project {n}",
            organisation=organisations[0 if n < LARGE_PROJECTS else n % ORGANISATIONS],
        )
        for n in range(ORGANISATIONS * PROJECTS_PER_ORGANISATION)
    ]
    Project.objects.bulk_create(projects, batch_size=1000)
    for name, watts in GPU_WATTS.items():
        GpuType.objects.create(name=name, memory_gb=80, power_watts=watts)
    energy_factors_create()
    with connection.cursor() as cursor:
        tiers = tier_table_create(cursor)
        cursor.execute("SELECT setseed(0.11)")
        cursor.execute(
            _JOBS_SQL, {"n": records, "user": user.pk, "first": FIRST_MONTH, "months": MONTHS}
        )
    finished_jobs_energy_write()
    return {
        "projects": tiers,
        "records": EnergyRecord.objects.count(),
        "totals": EnergyMonthTotal.objects.count(),
        "large": organisations[0],
        "user": user,
    }


def _last_month() -> date:
    from booking.energy.periods import add_months

    return add_months(FIRST_MONTH, MONTHS - 1)


GPU_WATTS = {"H100": 700, "H200": 700, "GB200": 1200}
"""Each GPU type's full power; a type of another name is taken at 700 W."""


def energy_factors_create() -> None:
    """Energy factors in force since 2025 for the site and for each of its GPU types."""
    from booking.models import GpuEnergyFactors, GpuType, SiteEnergyFactors

    for gpu_type in GpuType.objects.all():
        watts = GPU_WATTS.get(gpu_type.name, 700)
        GpuEnergyFactors.objects.create(
            gpu_type=gpu_type,
            effective_from=date(2025, 1, 1),
            full_power_watts=watts,
            idle_power_watts=watts // 7,
            node_overhead_watts=800,
        )
    SiteEnergyFactors.objects.create(
        effective_from=date(2025, 1, 1),
        pue="1.1",
        renewable_share="0.98",
        renewable_gco2_per_kwh=11,
        residual_gco2_per_kwh=300,
        heat_reuse_share="0.6",
        heat_reuse_efficiency="0.85",
        comparison_gco2_per_kwh=250,
    )


def tier_table_create(cursor: Any) -> int:
    """A temporary table ``bench_tier`` of every project's organisation and tier (the records
    keep both); returns the number of projects."""
    from booking.models import Project

    tiers = [
        (p.pk, p.organisation_id, int(p.priority_tier()))
        for p in Project.objects.select_related("organisation")
    ]
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS bench_tier "
        "(project_id bigint, organisation_id bigint, tier int)"
    )
    cursor.execute("TRUNCATE bench_tier")
    cursor.executemany("INSERT INTO bench_tier VALUES (%s, %s, %s)", tiers)
    return len(tiers)


def finished_jobs_energy_write() -> int:
    """An estimated energy record for every finished job that has none, and the monthly
    totals of their months made again; returns the number of records written."""
    from django.db import connection

    from booking.energy.periods import months_between
    from booking.energy.totals import month_totals_rebuild

    with connection.cursor() as cursor:
        tier_table_create(cursor)
        cursor.execute(_RECORDS_SQL)
        written = cursor.rowcount
        cursor.execute("SELECT min(month), max(month) FROM booking_energyrecord")
        first, last = cursor.fetchone()
        cursor.execute("VACUUM ANALYZE booking_job")
        cursor.execute("VACUUM ANALYZE booking_energyrecord")
    if first is not None:
        month_totals_rebuild(months_between(first, last))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE booking_energymonthtotal")
    return written


_JOBS_SQL = """
WITH p AS (SELECT array_agg(project_id ORDER BY project_id) AS ids FROM bench_tier),
     t AS (SELECT array_agg(id ORDER BY id) AS ids FROM booking_gputype),
     s AS (
        SELECT g,
               (1 + floor(random() * 8))::int AS gpus,
               %(first)s::timestamptz
                 + random() * (((%(first)s::date + make_interval(months => %(months)s))::timestamptz
                                - %(first)s::timestamptz) - interval '11 hours') AS start,
               (60 + floor(random() * 36000))::int AS run,
               random() AS pick
        FROM generate_series(1, %(n)s) AS g
     )
INSERT INTO booking_job (
    uuid, gpus, walltime_minutes, name, script, container_image, command, environment, state,
    reason, attempt, backend_job_id, submitted_at, admitted_at, started_at, ended_at,
    runtime_seconds, idempotency_key, request_fingerprint, gpu_type_id, project_id,
    submitted_by_id, strict_order
)
SELECT gen_random_uuid(), s.gpus, 600, 'bench', '#!/bin/bash', '', '', '{}', 'completed',
       '', 1, '', s.start, s.start, s.start, s.start + s.run * interval '1 second', s.run, '',
       '', t.ids[1 + (s.g %% array_length(t.ids, 1))],
       p.ids[1 + floor(s.pick * array_length(p.ids, 1))::int], %(user)s, false
FROM s, p, t
"""

_RECORDS_SQL = """
INSERT INTO booking_energyrecord (
    kind, method, job_id, attempt, booking_id, project_id, organisation_id, gpu_type_id, tier,
    month, started_at, ended_at, computed_at, gpu_hours, it_kwh, facility_kwh, renewable_kwh,
    emissions_kg, heat_reused_kwh, comparison_emissions_kg
)
SELECT 'job', 'estimated', j.id, 1, NULL, j.project_id, b.organisation_id, j.gpu_type_id, b.tier,
       date_trunc('month', j.started_at AT TIME ZONE 'UTC')::date, j.started_at, j.ended_at,
       now(), x.gh, x.it, x.it * 1.1, x.it * 1.1 * 0.98, x.it * 1.1 * 0.01678,
       x.it * 1.1 * 0.51, x.it * 1.1 * 0.25
FROM booking_job j
JOIN bench_tier b ON b.project_id = j.project_id
CROSS JOIN LATERAL (
    SELECT round(j.gpus * j.runtime_seconds / 3600.0, 6) AS gh,
           round(j.gpus * j.runtime_seconds / 3600.0 * 0.8, 6) AS it
) x
WHERE j.state = 'completed' AND j.started_at IS NOT NULL AND j.ended_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM booking_energyrecord r WHERE r.job_id = j.id)
"""


def _median_ms(repeat: int, call: Callable[[], object]) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def _ms(median: float, worst: float) -> str:
    return f"median {median:.1f} ms, max {worst:.1f} ms"


def _time_reports(site: dict[str, Any], repeat: int) -> list[str]:
    from django.test import Client

    from booking.energy.public import public_months_compute
    from booking.energy.selectors import organisation_energy_report
    from booking.models import EnergyRecord

    large, last = site["large"], _last_month()
    month = date(2026, 5, 1)
    in_month = EnergyRecord.objects.filter(organisation=large, month=month).count()
    in_year = EnergyRecord.objects.filter(organisation=large).count()
    lines = [f"large organisation: {in_month:,} records in {month:%Y-%m}, {in_year:,} in 12 months"]
    one, one_max = _median_ms(
        repeat, lambda: organisation_energy_report(large, first=month, last=month)
    )
    year, year_max = _median_ms(
        repeat, lambda: organisation_energy_report(large, first=FIRST_MONTH, last=last)
    )
    client = Client()
    client.force_login(site["user"])
    url = f"/api/v1/energy/organisations/{large.pk}/"

    def api(first: str, to: str) -> None:
        response = client.get(url, {"from": first, "to": to}, secure=True)
        assert response.status_code == 200, response.content  # noqa: S101

    api_one, api_one_max = _median_ms(repeat, lambda: api("2026-05", "2026-05"))
    api_year, api_year_max = _median_ms(
        repeat, lambda: api(f"{FIRST_MONTH:%Y-%m}", f"{last:%Y-%m}")
    )
    public, public_max = _median_ms(repeat, public_months_compute)
    return [
        *lines,
        f"organisation report, one month: {_ms(one, one_max)} (target 5000 ms)",
        f"organisation report, 12 months: {_ms(year, year_max)} (target 5000 ms)",
        f"GET organisation report API, one month: {_ms(api_one, api_one_max)}",
        f"GET organisation report API, 12 months: {_ms(api_year, api_year_max)}",
        f"public aggregates, 12 months, no cache: {_ms(public, public_max)} (target 1000 ms)",
    ]


def _time_writes(site: dict[str, Any], recompute: bool) -> list[str]:
    from booking.energy.accounting import job_energy_account
    from booking.energy.factors import FactorBook
    from booking.energy.recompute import energy_recompute
    from booking.energy.totals import month_totals_rebuild
    from booking.models import EnergyRecord, Job

    template = Job.objects.filter(project__organisation=site["large"]).first()
    assert template is not None  # noqa: S101
    fresh = []
    for n in range(50):
        template.pk = None
        template.uuid = __import__("uuid").uuid4()
        template.name = f"fresh {n}"
        template.save(force_insert=True)
        fresh.append(template.pk)
    book = FactorBook()
    times = []
    for pk in fresh:
        started = time.perf_counter()
        job_energy_account(job_id=pk, book=book)
        times.append((time.perf_counter() - started) * 1000)
    month = date(2026, 5, 1)
    records = EnergyRecord.objects.filter(month=month).count()
    started = time.perf_counter()
    month_totals_rebuild([month])
    rebuild = time.perf_counter() - started
    lines = [
        f"job_energy_account, a job that just ended: median {statistics.median(times):.1f} ms, "
        f"max {max(times):.1f} ms",
        f"month_totals_rebuild, one month ({records:,} records): {rebuild * 1000:.0f} ms",
    ]
    if recompute:
        started = time.perf_counter()
        report = energy_recompute(first=month, last=month, reason="benchmark", requested_by="bench")
        lines.append(
            f"energy_recompute, one month ({records:,} records, {report.changed:,} changed): "
            f"{time.perf_counter() - started:.1f} s"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
