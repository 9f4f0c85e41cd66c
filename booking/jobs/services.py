"""Jobs: submit and cancel; staff hold, release and requeue; jobs held for budget back in the
queue when their project gets more hours. What the cluster reports (start, end) and the
accounting of a job's GPU-hours are in ``booking.jobs.settlement``.
"""

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.models import User
from booking.capacity.jobs import booking_for_job
from booking.cluster.base import ClusterBackend
from booking.cluster.clock import cluster_today
from booking.cluster.registry import cluster_backend
from booking.jobs.durations import minutes_text
from booking.jobs.settlement import job_runtime_seconds, job_settle
from booking.jobs.signals import jobs_queued
from booking.jobs.transitions import job_event_record, job_transition, require_state
from booking.ledger.budget import BudgetVerdict, budget_verdict
from booking.ledger.selectors import balance_of
from booking.models import (
    ACTIVE_STATES,
    Allocation,
    BookingState,
    ClusterCancel,
    GpuType,
    Job,
    JobReason,
    JobState,
    Project,
    ProjectState,
    job_states_into,
)
from booking.permissions import can_cancel_job, can_submit_job
from booking.scheduler.hours import hold_gpu_hours
from stargate_portal.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from stargate_portal.permissions import require_staff

logger = logging.getLogger(__name__)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IMAGE = re.compile(r"[a-z0-9]+(?:[._/:@-][A-Za-z0-9_.-]+)*")
ENV_MAX_VARIABLES = 100
ENV_MAX_VALUE_CHARS = 4096
ENV_NAME_MAX_CHARS = 255
JOB_REASON_MAX_CHARS = 400
"""A staff reason, with the sentence around it, fits a job event's message (500)."""
CANCELLABLE = job_states_into(JobState.CANCELLED)
BOOKING_STOP_BATCH = 500
CLUSTER_CANCEL_BATCH = 1_000
REQUEUEABLE = tuple(state for state in job_states_into(JobState.PENDING) if state != JobState.HELD)
"""A staff requeue starts a new attempt; a held job is released instead."""


@dataclass(frozen=True)
class Submission:
    job: Job
    created: bool


# -- submit ----------------------------------------------------------------------------------


def job_submit(
    *,
    user: User,
    project: Project,
    gpu_type_name: str,
    gpus: int,
    walltime_minutes: int,
    name: str,
    script: str = "",
    container_image: str = "",
    command: str = "",
    environment: dict[str, Any] | None = None,
    idempotency_key: str = "",
    strict_order: bool = False,
    booking_id: int | None = None,
) -> Submission:
    """Queue a job, into the project's capacity booking ``booking_id`` if given (it runs only
    inside the booking's window and is paid by it). A repeat with the same idempotency key
    returns the first job; the same key with another submission is refused
    (``idempotency_key_reused``)."""
    inputs: tuple[Any, ...] = (
        project.pk,
        gpu_type_name,
        gpus,
        walltime_minutes,
        name,
        script,
        container_image,
        command,
        environment or {},
        # Only when set, so fingerprints of submissions made before the option still match.
        *(("strict_order",) if strict_order else ()),
    )
    # A job outside bookings keeps the fingerprint it always had.
    fingerprint = _fingerprint(*inputs) if booking_id is None else _fingerprint(*inputs, booking_id)
    if idempotency_key:
        earlier = _earlier_submission(user, idempotency_key, fingerprint)
        if earlier is not None:
            return Submission(earlier, created=False)
    gpu_type = _gpu_type(gpu_type_name)
    _check_size(gpu_type, gpus, walltime_minutes)
    environment = _clean_environment(environment or {})
    _check_work(script, container_image, command)
    now = cluster_backend().now()
    _check_project(user, project, gpu_type, today=cluster_today(now))
    booking = None
    if booking_id is None:
        _check_budget(project, gpu_type, hold_gpu_hours(gpus, walltime_minutes))
    else:
        booking = booking_for_job(
            project=project,
            booking_id=booking_id,
            gpu_type=gpu_type,
            gpus=gpus,
            walltime_minutes=walltime_minutes,
            now=now,
        )
    fields = {
        "project": project,
        "submitted_by": user,
        "gpu_type": gpu_type,
        "gpus": gpus,
        "walltime_minutes": walltime_minutes,
        "name": name.strip()[:200] or "job",
        "script": script,
        "container_image": container_image.strip(),
        "command": command,
        "environment": environment,
        "strict_order": strict_order,
        "booking": booking,
        "submitted_at": now,
        "reason": JobReason.PRIORITY,
        "idempotency_key": idempotency_key,
        "request_fingerprint": fingerprint if idempotency_key else "",
    }
    try:
        with transaction.atomic():
            job = Job.objects.create(**fields)
            message = _("Submitted: %(g)s x %(t)s for %(w)s.") % {
                "g": gpus,
                "t": gpu_type.name,
                "w": minutes_text(walltime_minutes),
            }
            if booking is not None:
                message += " " + _("Runs in capacity booking %(b)s.") % {"b": booking.pk}
            job_event_record(
                job, "", message=message, actor=user, at=now, reason=JobReason.PRIORITY
            )
    except IntegrityError:
        earlier = _earlier_submission(user, idempotency_key, fingerprint)
        if not idempotency_key or earlier is None:
            raise
        return Submission(earlier, created=False)
    transaction.on_commit(_announce_queued, robust=True)
    return Submission(job, created=True)


def _fingerprint(*inputs: Any) -> str:
    """What identifies a submission for its Idempotency-Key, whichever way it came in."""
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _earlier_submission(user: User, key: str, fingerprint: str) -> Job | None:
    earlier = Job.objects.filter(submitted_by=user, idempotency_key=key).first()
    if earlier is not None and earlier.request_fingerprint != fingerprint:
        raise Conflict(
            _("This Idempotency-Key was already used for a different job submission."),
            code="idempotency_key_reused",
            details={"job": earlier.pk},
        )
    return earlier


def _announce_queued() -> None:
    """After the commit (``robust``: a failing receiver is logged, never fails the write; the
    admission cycle also runs on beat)."""
    jobs_queued.send(sender=Job)


def _gpu_type(name: str) -> GpuType:
    gpu_type = GpuType.objects.filter(name__iexact=name.strip()).first()
    if gpu_type is None:
        known = ", ".join(GpuType.objects.values_list("name", flat=True))
        raise ValidationFailed(
            _("Unknown GPU type %(n)s (known: %(k)s).") % {"n": name, "k": known},
            code="unknown_gpu_type",
            details={"gpu_type": [_("Unknown GPU type.")]},
        )
    return gpu_type


def _check_size(gpu_type: GpuType, gpus: int, walltime_minutes: int) -> None:
    per_node = gpu_type.gpus_per_node
    maximum = settings.JOBS_MAX_GPUS
    if not 1 <= gpus <= maximum or (gpus > per_node and gpus % per_node):
        message = _(
            "Ask for 1 to %(n)s GPUs on one node, or a multiple of %(n)s up to %(max)s."
        ) % {"n": per_node, "max": maximum}
        raise ValidationFailed(message, code="invalid_gpus", details={"gpus": [message]})
    if walltime_minutes < 1:
        message = _("The walltime must be at least one minute.")
        raise ValidationFailed(
            message, code="invalid_walltime", details={"walltime_minutes": [message]}
        )
    limit = settings.JOBS_MAX_WALLTIME_MINUTES
    if walltime_minutes > limit:
        message = _("The walltime may be at most %(h)s.") % {"h": minutes_text(limit)}
        raise ValidationFailed(
            message, code="walltime_too_long", details={"walltime_minutes": [message]}
        )


def _check_work(script: str, image: str, command: str) -> None:
    """A batch script, or a container image with a command: exactly one of them."""
    if bool(script) == bool(image.strip()):
        message = _("Give either a batch script or a container image and command.")
        raise ValidationFailed(message, code="script_or_container", details={"script": [message]})
    if script:
        _check_script(script)
    elif not _IMAGE.fullmatch(image.strip()) or not command.strip():
        message = _(
            "Give a container image reference (e.g. nvcr.io/nvidia/pytorch:24.05) and a command."
        )
        raise ValidationFailed(
            message, code="invalid_container", details={"container_image": [message]}
        )


def _check_script(script: str) -> None:
    limit = settings.JOBS_SCRIPT_MAX_BYTES
    if not script.startswith("#!"):
        problem = _("A batch script starts with an interpreter line such as #!/bin/bash.")
    elif len(script.encode()) > limit:
        problem = _("A batch script may be at most %(k)s KiB.") % {"k": limit // 1024}
    elif "\x00" in script:
        problem = _("A batch script cannot contain NUL characters.")
    else:
        return
    raise ValidationFailed(problem, code="invalid_script", details={"script": [problem]})


def _clean_environment(environment: dict[str, Any]) -> dict[str, str]:
    problem = None
    if len(environment) > ENV_MAX_VARIABLES:
        problem = _("At most %(n)s environment variables.") % {"n": ENV_MAX_VARIABLES}
    for name, value in environment.items():
        if len(str(name)) > ENV_NAME_MAX_CHARS or not _ENV_NAME.fullmatch(str(name)):
            problem = _("%(n)s is not a valid variable name.") % {"n": name}
        elif not isinstance(value, str) or len(value) > ENV_MAX_VALUE_CHARS or "\x00" in value:
            problem = _("The value of %(n)s must be text of at most %(c)s characters.") % {
                "n": name,
                "c": ENV_MAX_VALUE_CHARS,
            }
        if problem:
            break
    if problem:
        raise ValidationFailed(
            problem, code="invalid_environment", details={"environment": [problem]}
        )
    return {str(name): str(value) for name, value in environment.items()}


def _check_project(user: User, project: Project, gpu_type: GpuType, *, today: date) -> None:
    if not can_submit_job(user, project):
        raise PermissionDenied(
            _("Only members of the project submit its jobs."), code="not_a_member"
        )
    if project.state == ProjectState.SUSPENDED:
        raise Conflict(_("The project is suspended."), code="project_suspended")
    allocation = Allocation.objects.filter(project=project, gpu_type=gpu_type).first()
    if allocation is None:
        raise Conflict(
            _("The project has no allocation for %(t)s.") % {"t": gpu_type.name},
            code="no_allocation",
        )
    if not allocation.starts_on <= today <= allocation.ends_on:
        raise Conflict(_("The allocation is not active today."), code="allocation_inactive")


def _check_budget(project: Project, gpu_type: GpuType, hold: Decimal) -> None:
    """A job outside bookings holds gpus x walltime at admission (a booked job is paid)."""
    balance = balance_of(project=project, gpu_type=gpu_type)
    # A job that only waits for other jobs' holds is accepted (reason "budget"); one larger
    # than everything not yet charged could never run and is refused.
    if budget_verdict(hold_gpu_hours=hold, balance=balance) == BudgetVerdict.REFUSED:
        raise Conflict(
            _("The job needs %(h)s GPU-hours; the allocation has %(a)s left.")
            % {"h": hold, "a": balance.unspent},
            code="budget_exhausted",
            details={
                "hold_gpu_hours": str(hold),
                "available_gpu_hours": str(balance.available),
                "unspent_gpu_hours": str(balance.unspent),
            },
        )


def jobs_requeue_after_top_up(*, project: Project, gpu_type: GpuType) -> int:
    """Put jobs held for ``budget_exhausted`` back in the queue once the project has more hours.

    They keep their submit order; the cycle holds them again if they still cannot fit.
    """
    with transaction.atomic():
        held = list(
            Job.objects.select_for_update()
            .filter(
                project=project,
                gpu_type=gpu_type,
                state=JobState.HELD,
                reason=JobReason.BUDGET_EXHAUSTED,
            )
            .order_by("submitted_at", "pk")
        )
        message = _("Back in the queue: the project received more GPU-hours.")
        for job in held:
            job_transition(job, JobState.PENDING, message=message, reason=JobReason.PRIORITY)
    if held:
        transaction.on_commit(_announce_queued, robust=True)
    return len(held)


# -- cancel and staff actions ----------------------------------------------------------------


def job_cancel(*, job: Job, user: User) -> Job:
    """Cancel a pending, held, admitted or running job; an active job's hold is released."""
    if not can_cancel_job(user, job):
        raise PermissionDenied(_("Only the submitter, the PI and managers cancel this job."))
    with transaction.atomic():
        locked = _lock(job)
        if locked.state not in CANCELLABLE:
            raise Conflict(
                _("A %(s)s job cannot be cancelled.") % {"s": locked.get_state_display()},
                code="not_cancellable",
            )
        now = cluster_backend().now()
        note = _stop_active(locked, now)
        locked.ended_at = now
        message = _("Cancelled by %(u)s.") % {"u": user.email} + note
        job_transition(locked, JobState.CANCELLED, message=message, actor=user, at=now)
    return locked


def jobs_stop_after_booking(*, now: datetime) -> int:
    """Stop the jobs of capacity bookings that ended or were cancelled, as a Slurm reservation
    does at its end: active ones are cancelled on the cluster, queued ones can never start.
    Reason ``booking_ended``; running it again finds nothing. Returns how many were stopped."""
    over = Q(booking__ends_at__lte=now) | Q(booking__state=BookingState.CANCELLED)
    ids = list(
        Job.objects.filter(over, state__in=CANCELLABLE)
        .order_by("pk")
        .values_list("pk", flat=True)[:BOOKING_STOP_BATCH]
    )
    with cluster_cancels_together():
        return sum(_job_stop_for_booking(pk, now) for pk in ids)


def _job_stop_for_booking(pk: int, now: datetime) -> bool:
    with transaction.atomic():
        job = Job.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
        if job is None or job.state not in CANCELLABLE:
            return False
        note = _stop_active(job, now)
        job.ended_at = now
        message = _("Stopped: capacity booking %(b)s ended.") % {"b": job.booking_id} + note
        job_transition(
            job, JobState.CANCELLED, message=message, at=now, reason=JobReason.BOOKING_ENDED
        )
    return True


def job_hold(*, job: Job, staff: User, reason: str) -> Job:
    """Staff keep a pending job out of admission until they release it."""
    require_staff(staff)
    with transaction.atomic():
        locked = _lock(job)
        require_state(locked, (JobState.PENDING,))
        _require_reason(reason)
        message = _("Held by staff: %(r)s") % {"r": reason.strip()}
        job_transition(
            locked, JobState.HELD, message=message, actor=staff, reason=JobReason.HELD_BY_STAFF
        )
    return locked


def job_release(*, job: Job, staff: User) -> Job:
    """Staff put a held job back in the queue, in its original submit order."""
    require_staff(staff)
    with transaction.atomic():
        locked = _lock(job)
        require_state(locked, (JobState.HELD,))
        locked.estimated_start = None
        message = _("Released by staff.")
        job_transition(
            locked, JobState.PENDING, message=message, actor=staff, reason=JobReason.PRIORITY
        )
    return locked


def job_requeue(*, job: Job, staff: User, reason: str) -> Job:
    """Staff run a job again as a new attempt (an active one is stopped and settled first)."""
    require_staff(staff)
    with transaction.atomic():
        locked = _lock(job)
        require_state(locked, REQUEUEABLE)
        _require_reason(reason)
        now = cluster_backend().now()
        note = _stop_active(locked, now)
        locked.attempt += 1
        locked.backend_job_id = ""
        for name in (
            "placement",
            "admitted_at",
            "started_at",
            "expected_end",
            "ended_at",
            "runtime_seconds",
            "exit_code",
            "estimated_start",
        ):
            setattr(locked, name, None)
        message = (
            _("Requeued by staff as attempt %(n)s: %(r)s")
            % {"n": locked.attempt, "r": reason.strip()}
            + note
        )
        job_transition(
            locked,
            JobState.PENDING,
            message=message,
            actor=staff,
            at=now,
            reason=JobReason.PRIORITY,
        )
    return locked


def _stop_active(job: Job, now: datetime) -> str:
    """Settle an admitted or running job that is being stopped; its cancel on the cluster is
    kept with the stop and sent after the commit."""
    if job.state not in ACTIVE_STATES:
        return ""
    runtime = 0
    if job.state == JobState.RUNNING and job.started_at is not None:
        runtime = job_runtime_seconds(job, job.started_at, now)
    job.runtime_seconds = runtime
    key = job.submission_key
    ClusterCancel.objects.bulk_create([ClusterCancel(key=key)], ignore_conflicts=True)
    transaction.on_commit(partial(_cancel_after_commit, key))
    return " " + job_settle(job, runtime_seconds=runtime, now=now)


_cancels_together: ContextVar[list[str] | None] = ContextVar("cancels_together", default=None)


@contextmanager
def cluster_cancels_together() -> Iterator[None]:
    """Jobs stopped inside the block (each in its own transaction) are cancelled on the
    cluster in one call when it ends, instead of one call per job after each commit: a staff
    action on 100 running jobs is one squeue and one scancel, and while Slurm is down it waits
    for the dead controller once (about 9 s) instead of once per job past a worker's timeout.
    A job whose transaction rolled back is not in the call."""
    keys: list[str] = []
    token = _cancels_together.set(keys)
    try:
        yield
    finally:
        _cancels_together.reset(token)
        if keys:
            _cancel_on_cluster(keys)


def _cancel_after_commit(key: str) -> None:
    together = _cancels_together.get()
    if together is None:
        _cancel_on_cluster([key])
    else:
        together.append(key)


def _cancel_on_cluster(keys: list[str], backend: ClusterBackend | None = None) -> bool:
    """Send cancels the books have committed, and forget those the cluster took. If it does
    not answer they stay in ``ClusterCancel`` for the next reconcile (within seconds), so the
    request that stopped the jobs still succeeds."""
    try:
        (backend or cluster_backend()).cancel(keys)
    except Exception as exc:  # any backend failure: the next reconcile sends them again
        logger.warning(
            "cluster cancel of %d jobs failed, kept for the reconcile: %r", len(keys), exc
        )
        return False
    ClusterCancel.objects.filter(key__in=keys).delete()
    return True


def jobs_cluster_cancels_send(*, backend: ClusterBackend) -> int:
    """Send the cancels the cluster has not confirmed, oldest first, at most
    ``CLUSTER_CANCEL_BATCH`` (a worker killed between a job's commit and its cancel, a
    cluster that did not answer); each reconcile calls it first. Returns how many were sent."""
    keys = list(ClusterCancel.objects.values_list("key", flat=True)[:CLUSTER_CANCEL_BATCH])
    if keys and _cancel_on_cluster(keys, backend):
        logger.info("cancelled %d jobs on the cluster that were waiting to be", len(keys))
        return len(keys)
    return 0


def _lock(job: Job) -> Job:
    locked = Job.objects.select_for_update().filter(pk=job.pk).first()
    if locked is None:
        raise NotFound(_("No such job."))
    return locked


def _require_reason(reason: str) -> None:
    """Staff interventions on someone's job say why: the owner reads it in the history."""
    if not reason.strip():
        raise ValidationFailed.on_field("reason", _("Give a reason; the job's owner sees it."))
    if len(reason.strip()) > JOB_REASON_MAX_CHARS:
        raise ValidationFailed.on_field(
            "reason", _("At most %(n)s characters.") % {"n": JOB_REASON_MAX_CHARS}
        )
