"""Sending admitted jobs to the cluster, exactly once per submission key."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from booking.cluster.base import BackendUnavailable, ClusterBackend, JobSpec
from booking.cluster.registry import cluster_backend
from booking.jobs.settlement import job_reject
from booking.models import Job, JobReason, JobState
from booking.models.capacity import reservation_name
from booking.models.jobs import submission_key
from stargate_portal.bulk_update import rows_update

BATCH = 500


def jobs_dispatch(
    *, job_ids: Collection[int] | None = None, backend: ClusterBackend | None = None
) -> int:
    """Submit admitted jobs that have no cluster id yet; returns how many were sent.

    The rows are locked (skipping those another worker is sending) and the cluster is asked
    for their keys first: a job sent before a crash is recorded, not sent again. While the
    cluster does not answer, the jobs waiting to be sent show ``cluster_unavailable`` and
    BackendUnavailable is raised for the caller to retry later.
    """
    backend = backend or cluster_backend()
    sent = 0
    while True:
        try:
            accepted, rejected, batch = _dispatch_batch(job_ids, backend)
        except BackendUnavailable:
            _unsent(job_ids).exclude(reason=JobReason.CLUSTER_UNAVAILABLE).update(
                reason=JobReason.CLUSTER_UNAVAILABLE
            )
            raise
        for job_id, why in rejected.items():
            job_reject(job_id=job_id, why=why)
        sent += accepted
        if batch < BATCH or accepted + len(rejected) == 0:
            return sent


_SPEC_FIELDS = (
    "pk",
    "uuid",
    "attempt",
    "name",
    "project_id",
    "gpu_type__name",
    "gpus",
    "walltime_minutes",
    "placement",
    "script",
    "container_image",
    "command",
    "environment",
    "booking__uuid",
)


def _unsent(job_ids: Collection[int] | None) -> QuerySet[Job]:
    waiting = Job.objects.filter(state=JobState.ADMITTED, backend_job_id="")
    return waiting if job_ids is None else waiting.filter(pk__in=list(job_ids))


def _dispatch_batch(
    job_ids: Collection[int] | None, backend: ClusterBackend
) -> tuple[int, dict[int, str], int]:
    with transaction.atomic():
        waiting = _unsent(job_ids).select_for_update(skip_locked=True, of=("self",))
        rows = list(waiting.order_by("admitted_at", "pk").values_list(*_SPEC_FIELDS)[:BATCH])
        specs = {spec.key: (pk, spec) for pk, spec in map(_spec, rows)}
        known = {key: found.backend_job_id for key, found in backend.find(specs).items()}
        result = backend.submit([spec for key, (_pk, spec) in specs.items() if key not in known])
        ids = known | result.accepted
        rows_update(
            Job,
            ["backend_job_id"],
            [(specs[key][0], value) for key, value in ids.items()],
            same={"reason": ""},
        )
    rejected = {specs[key][0]: why for key, why in result.rejected.items()}
    return len(ids), rejected, len(rows)


def _spec(row: tuple[Any, ...]) -> tuple[int, JobSpec]:
    pk, job_uuid, attempt, name, project_id, gpu_type, gpus, walltime = row[:8]
    placement, script, image, command, environment, booking_uuid = row[8:]
    return pk, JobSpec(
        key=submission_key(job_uuid, attempt),
        name=name,
        account=str(project_id),
        gpu_type=gpu_type,
        gpus=gpus,
        walltime_minutes=walltime,
        placement=tuple((int(node), int(share)) for node, share in placement or ()),
        script=script,
        container_image=image,
        command=command,
        environment=dict(environment or {}),
        reservation=reservation_name(booking_uuid) if booking_uuid else None,
    )


def job_spec(job: Job) -> JobSpec:
    """What the cluster is sent for ``job``."""
    row = Job.objects.filter(pk=job.pk).values_list(*_SPEC_FIELDS).get()
    return _spec(row)[1]
