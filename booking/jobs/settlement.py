"""What the cluster reports about admitted jobs (started, ended, refused), and settling a job's
GPU-hours when it stops.

Accounting is exactly once per job attempt whatever retries happen: the admission cycle holds
gpus x walltime (ledger key ``job-<uuid>-hold``); the end of the job releases the whole hold
(``job-<uuid>-release``) and charges gpus x runtime (``job-<uuid>-charge``), release first so
the charge never fails for lack of balance.
"""

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.db import transaction
from django.utils.translation import gettext as _

from booking.cluster.registry import cluster_backend
from booking.jobs.durations import seconds_text
from booking.jobs.priority import fair_share_add
from booking.jobs.signals import job_ended
from booking.jobs.transitions import job_transition
from booking.ledger.services import Settled, SettleRequest, ledger_settle_many
from booking.models import ACTIVE_STATES, Job, JobReason, JobState
from booking.scheduler.hours import used_gpu_hours

logger = logging.getLogger(__name__)


def job_start(*, job_id: int, started_at: datetime, backend_job_id: str = "") -> bool:
    """An admitted job started on the cluster; False if it was not admitted any more."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state != JobState.ADMITTED:
            return False
        job.started_at = started_at
        job.expected_end = started_at + timedelta(minutes=job.walltime_minutes)
        job.backend_job_id = backend_job_id or job.backend_job_id
        message = _("Started on the cluster (job %(id)s).") % {"id": job.backend_job_id or "?"}
        job_transition(job, JobState.RUNNING, message=message, at=_after_admission(job, started_at))
    return True


def job_finish(
    *,
    job_id: int,
    state: str,
    started_at: datetime | None,
    ended_at: datetime,
    exit_code: int | None,
    reason: str = "",
    consumed_energy_joules: int | None = None,
) -> bool:
    """An admitted or running job ended on the cluster: settle its GPU-hours exactly once;
    after the commit, ``job_ended`` tells the features that account for finished jobs."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state not in ACTIVE_STATES:
            return False
        start = job.started_at or started_at
        runtime = job_runtime_seconds(job, start, ended_at) if start else 0
        job.started_at, job.ended_at = start, ended_at
        job.runtime_seconds, job.exit_code = runtime, exit_code
        job.consumed_energy_joules = consumed_energy_joules
        note = job_settle(job, runtime_seconds=runtime, now=ended_at)
        message = finish_message(state, runtime, exit_code, reason) + " " + note
        at = _after_admission(job, ended_at)
        job_transition(job, state, message=message, at=at, reason=reason)
        transaction.on_commit(partial(job_ended.send, sender=Job, job_id=job.pk))
    return True


def _after_admission(job: Job, at: datetime) -> datetime:
    """A cluster's times have whole seconds (Slurm's do): a job that starts or ends within
    the second it was admitted must still follow its admission in the history."""
    return max(at, job.admitted_at) if job.admitted_at else at


def job_reject(*, job_id: int, why: str) -> bool:
    """The cluster refused an admitted job for good: release its hold."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state != JobState.ADMITTED:
            return False
        now = cluster_backend().now()
        job.ended_at, job.runtime_seconds = now, 0
        note = job_settle(job, runtime_seconds=0, now=now)
        message = _("Rejected by the cluster: %(w)s.") % {"w": why} + " " + note
        job_transition(job, JobState.REJECTED, message=message, at=now, reason=JobReason.REJECTED)
    return True


def finish_message(state: str, runtime: int, exit_code: int | None, reason: str) -> str:
    ran = seconds_text(runtime)
    if state == JobState.COMPLETED:
        return _("Completed after %(t)s (exit code %(c)s).") % {"t": ran, "c": exit_code}
    if state == JobState.TIMEOUT:
        return _("Stopped at its walltime after %(t)s.") % {"t": ran}
    if reason == JobReason.PREEMPTED:
        return _("Preempted on the cluster after %(t)s.") % {"t": ran}
    if state == JobState.CANCELLED:
        return _("Cancelled on the cluster after %(t)s.") % {"t": ran}
    if reason == JobReason.NODE_FAILURE:
        return _("Failed after %(t)s: a node failed.") % {"t": ran}
    if reason == JobReason.OUT_OF_MEMORY:
        return _("Failed after %(t)s: out of memory.") % {"t": ran}
    return _("Failed after %(t)s (exit code %(c)s).") % {"t": ran, "c": exit_code}


def job_settle(job: Job, *, runtime_seconds: int, now: datetime) -> str:
    """Release the whole hold, charge gpus x runtime, correct the fair-share usage by the
    difference; returns a note for the job's history ("" when nothing was held). A job in a
    capacity booking is never charged: the booking paid for its nodes. One job through the
    ledger's batch settlement, as reconcile settles many: one lock, one balance, one insert."""
    booked = booking_paid_note(job)
    if booked is not None:
        return booked
    settled = ledger_settle_many([settle_request(job, runtime_seconds)])
    usage: dict[int, float] = {}
    note = settle_note(job, runtime_seconds, settled[job.pk], usage)
    if usage:
        fair_share_add(gpu_hours=dict(usage), now=now)
    return note


def settle_request(job: Job, runtime_seconds: int) -> SettleRequest:
    """The ledger's settlement of a job that ran ``runtime_seconds`` (under its own keys)."""
    release, charge = settle_amounts(job, runtime_seconds)
    return SettleRequest(
        ref=job.pk,
        project_id=job.project_id,
        gpu_type_id=job.gpu_type_id,
        hold_key=job.ledger_key("hold"),
        release_gpu_hours=release,
        release_key=job.ledger_key("release"),
        charge_gpu_hours=charge,
        charge_key=job.ledger_key("charge"),
        reason=str(job.uuid),
    )


def settle_note(job: Job, runtime_seconds: int, settled: Settled, usage: dict[int, float]) -> str:
    """The history note of a settlement ("" when nothing was held), adding the fair-share
    correction (charged minus released) to ``usage``. A charge the ledger refused (the
    project was suspended or its allocation ended while the job ran) is named in the note."""
    if not settled.held:
        return ""
    release, charge = settle_amounts(job, runtime_seconds)
    note = _("%(h)s GPU-hours released") % {"h": release}
    if charge > 0 and settled.charge_refused:
        logger.warning("job %s not charged: %s", job.uuid, settled.charge_refused)
        note += _(", not charged (%(why)s)") % {"why": settled.charge_refused}
    elif charge > 0:
        note += _(", %(c)s charged") % {"c": charge}
    usage[job.project_id] = usage.get(job.project_id, 0.0) + float(charge - release)
    return note + "."


def booking_paid_note(job: Job) -> str | None:
    """The history note of a job in a capacity booking, which is never charged (the booking
    paid for its nodes); None for a job outside bookings."""
    if job.booking_id is None:
        return None
    return _("Paid by capacity booking %(b)s.") % {"b": job.booking_id}


def settle_amounts(job: Job, runtime_seconds: int) -> tuple[Decimal, Decimal]:
    """``(released, charged)`` GPU-hours of a job that ran ``runtime_seconds``: the whole
    hold back, gpus x runtime charged. The one rule, per job or in batches."""
    return job.hold_gpu_hours, used_gpu_hours(job.gpus, runtime_seconds)


def job_runtime_seconds(job: Job, started_at: datetime, ended_at: datetime) -> int:
    """How long the job ran, capped by its walltime."""
    seconds = int((ended_at - started_at).total_seconds())
    return max(0, min(seconds, job.walltime_minutes * 60))
