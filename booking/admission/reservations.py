"""The backfill reservations of a cycle, kept with its log: why the jobs behind them waited."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

from booking.admission.snapshot import Site
from booking.jobs.priority import ProjectFacts
from booking.models import AdmissionCycle, AdmissionReservation
from booking.scheduler import CycleResult


def reservations_record(
    *, cycle: AdmissionCycle, site: Site, facts: Mapping[int, ProjectFacts], result: CycleResult
) -> int:
    """Write one row per GPU type that kept room for a blocked job (one insert)."""
    type_ids = {name: pk for pk, name in site.type_names.items()}
    rows = []
    for gpu_type, reservation in result.reservations.items():
        job = site.pending.get(reservation.job_id)
        fact = facts.get(job.project_id) if job is not None else None
        if job is None or fact is None or gpu_type not in type_ids:
            continue
        shadow = reservation.shadow_time
        rows.append(
            AdmissionReservation(
                cycle=cycle,
                gpu_type_id=type_ids[gpu_type],
                job_id=int(reservation.job_id),
                tier=fact.standing.tier,
                gpus=job.gpus,
                shadow_time=None if math.isinf(shadow) else datetime.fromtimestamp(shadow, UTC),
            )
        )
    AdmissionReservation.objects.bulk_create(rows)
    return len(rows)
