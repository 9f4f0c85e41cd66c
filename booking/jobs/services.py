"""Jobs: submit and cancel; staff hold, release and requeue; the transitions the cluster reports.

Accounting is exactly once per job attempt whatever retries happen: the admission cycle holds
gpus x walltime (ledger key ``job-<uuid>-hold``); the end of the job releases the whole hold
(``job-<uuid>-release``) and charges gpus x runtime (``job-<uuid>-charge``).
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from booking.cluster.registry import cluster_backend
from booking.grants.services.projects import can_manage_project
from booking.ledger.selectors import balance_of
from booking.ledger.services import ledger_charge, ledger_release
from booking.models import (
    ACTIVE_STATES,
    Allocation,
    FairShareUsage,
    GpuType,
    Job,
    JobEvent,
    JobState,
    LedgerEntry,
    Project,
    ProjectMember,
    ProjectState,
)
from booking.models.jobs import HOURS, NODE_GPUS
from booking.scheduler import decayed
from stargate_portal.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

logger = logging.getLogger(__name__)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IMAGE = re.compile(r"[a-z0-9]+(?:[._/:@-][A-Za-z0-9_.-]+)*")
ENV_MAX_VARIABLES = 100
ENV_MAX_VALUE_CHARS = 4096
CANCELLABLE = (JobState.PENDING, JobState.HELD, JobState.ADMITTED, JobState.RUNNING)
REQUEUEABLE = (
    JobState.ADMITTED,
    JobState.RUNNING,
    JobState.FAILED,
    JobState.TIMEOUT,
    JobState.CANCELLED,
    JobState.REJECTED,
)


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
    booking_reference: int | None = None,
    idempotency_key: str = "",
    request_fingerprint: str = "",
) -> Submission:
    """Queue a job; a repeat with the same idempotency key returns the first job."""
    if idempotency_key:
        earlier = _earlier_submission(user, idempotency_key, request_fingerprint)
        if earlier is not None:
            return Submission(earlier, created=False)
    gpu_type = _gpu_type(gpu_type_name)
    _check_size(gpu_type, gpus, walltime_minutes)
    environment = _clean_environment(environment or {})
    _check_work(script, container_image, command)
    _check_booking(project, gpu_type, booking_reference)
    hold = (Decimal(gpus * walltime_minutes) / 60).quantize(HOURS)
    _check_project(user, project, gpu_type, hold)
    now = cluster_backend().now()
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
        "booking_reference": booking_reference,
        "submitted_at": now,
        "reason": "priority",
        "idempotency_key": idempotency_key,
        "request_fingerprint": request_fingerprint,
    }
    try:
        with transaction.atomic():
            job = Job.objects.create(**fields)
            message = _("Submitted: %(g)s x %(t)s for %(w)s.") % {
                "g": gpus,
                "t": gpu_type.name,
                "w": _duration(walltime_minutes * 60),
            }
            _record(job, "", message=message, actor=user, at=now, reason="priority")
    except IntegrityError:
        earlier = _earlier_submission(user, idempotency_key, request_fingerprint)
        if not idempotency_key or earlier is None:
            raise
        return Submission(earlier, created=False)
    transaction.on_commit(admission_request)
    return Submission(job, created=True)


def _earlier_submission(user: User, key: str, fingerprint: str) -> Job | None:
    earlier = Job.objects.filter(submitted_by=user, idempotency_key=key).first()
    if earlier is not None and fingerprint and earlier.request_fingerprint != fingerprint:
        raise Conflict(
            _("This Idempotency-Key was already used for a different job submission."),
            code="idempotency_key_reused",
            details={"job": earlier.pk},
        )
    return earlier


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
    per_node = gpu_type.gpus_per_node or NODE_GPUS
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
        message = _("The walltime may be at most %(h)s.") % {"h": _duration(limit * 60)}
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
        if not _ENV_NAME.fullmatch(str(name)):
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


def _check_booking(project: Project, gpu_type: GpuType, booking_reference: int | None) -> None:
    """Jobs that name a capacity booking run inside it; bookings come in a later issue."""
    if booking_reference is None:
        return
    message = _("No capacity booking %(b)s for this project and GPU type.") % {
        "b": booking_reference
    }
    raise ValidationFailed(message, code="unknown_booking", details={"booking": [message]})


def _check_project(user: User, project: Project, gpu_type: GpuType, hold: Decimal) -> None:
    if not ProjectMember.objects.filter(project=project, user=user).exists():
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
    today = cluster_backend().now().date()
    if not allocation.starts_on <= today <= allocation.ends_on:
        raise Conflict(_("The allocation is not active today."), code="allocation_inactive")
    balance = balance_of(project=project, gpu_type=gpu_type)
    # Holds of running jobs come back, so a job waits for them (reason "budget"); a job larger
    # than everything not yet charged could never run and is refused.
    if hold > balance.granted - balance.charged:
        raise Conflict(
            _("The job needs %(h)s GPU-hours; the allocation has %(a)s left.")
            % {"h": hold, "a": balance.granted - balance.charged},
            code="budget_exhausted",
            details={
                "hold_gpu_hours": str(hold),
                "available_gpu_hours": str(balance.available),
                "unspent_gpu_hours": str(balance.granted - balance.charged),
            },
        )


def admission_request() -> None:
    """Ask for an admission cycle soon; submissions within the debounce window ask once."""
    if not settings.ADMISSION_ON_SUBMIT:
        return
    from booking.admission.tasks import admission_cycle_run

    debounce = settings.ADMISSION_DEBOUNCE_SECONDS
    if cache.add("booking:admission-cycle-requested", 1, timeout=max(debounce, 1.0)):
        admission_cycle_run.apply_async(countdown=debounce)


def jobs_requeue_after_top_up(*, project: Project, gpu_type: GpuType) -> int:
    """Put jobs held for ``budget_exhausted`` back in the queue once the project has more hours.

    They keep their submit order; the cycle holds them again if they still cannot fit.
    """
    with transaction.atomic():
        held = list(
            Job.objects.select_for_update()
            .filter(
                project=project, gpu_type=gpu_type, state=JobState.HELD, reason="budget_exhausted"
            )
            .order_by("submitted_at", "pk")
        )
        message = _("Back in the queue: the project received more GPU-hours.")
        for job in held:
            _transition(job, JobState.PENDING, message=message, reason="priority")
    if held:
        transaction.on_commit(admission_request)
    return len(held)


# -- cancel and staff actions ----------------------------------------------------------------


def job_cancel(*, job: Job, user: User) -> Job:
    """Cancel a pending, held, admitted or running job; an active job's hold is released."""
    if user.pk != job.submitted_by_id and not can_manage_project(user, job.project):
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
        _transition(locked, JobState.CANCELLED, message=message, actor=user, at=now)
    return locked


def job_hold(*, job: Job, staff: User, reason: str) -> Job:
    """Staff keep a pending job out of admission until they release it."""
    _require_staff(staff)
    with transaction.atomic():
        locked = _lock(job)
        _require_state(locked, (JobState.PENDING,))
        _require_reason(reason)
        message = _("Held by staff: %(r)s") % {"r": reason.strip()}
        _transition(locked, JobState.HELD, message=message, actor=staff, reason="held_by_staff")
    return locked


def job_release(*, job: Job, staff: User) -> Job:
    """Staff put a held job back in the queue, in its original submit order."""
    _require_staff(staff)
    with transaction.atomic():
        locked = _lock(job)
        _require_state(locked, (JobState.HELD,))
        locked.estimated_start = None
        message = _("Released by staff.")
        _transition(locked, JobState.PENDING, message=message, actor=staff, reason="priority")
    return locked


def job_requeue(*, job: Job, staff: User, reason: str) -> Job:
    """Staff run a job again as a new attempt (an active one is stopped and settled first)."""
    _require_staff(staff)
    with transaction.atomic():
        locked = _lock(job)
        _require_state(locked, REQUEUEABLE)
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
        _transition(
            locked, JobState.PENDING, message=message, actor=staff, at=now, reason="priority"
        )
    return locked


def _stop_active(job: Job, now: datetime) -> str:
    """Settle an admitted or running job that is being stopped; cancel it on the cluster."""
    if job.state not in ACTIVE_STATES:
        return ""
    runtime = 0
    if job.state == JobState.RUNNING and job.started_at is not None:
        runtime = _runtime_seconds(job, job.started_at, now)
    job.runtime_seconds = runtime
    key = job.submission_key
    transaction.on_commit(lambda: cluster_backend().cancel([key]))
    return " " + _settle(job, runtime_seconds=runtime, now=now)


# -- transitions the cluster reports ---------------------------------------------------------


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
        _transition(job, JobState.RUNNING, message=message, at=started_at)
    return True


def job_finish(
    *,
    job_id: int,
    state: str,
    started_at: datetime | None,
    ended_at: datetime,
    exit_code: int | None,
    reason: str = "",
) -> bool:
    """An admitted or running job ended on the cluster: settle its GPU-hours exactly once."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state not in ACTIVE_STATES:
            return False
        start = job.started_at or started_at
        runtime = _runtime_seconds(job, start, ended_at) if start else 0
        job.started_at, job.ended_at = start, ended_at
        job.runtime_seconds, job.exit_code = runtime, exit_code
        note = _settle(job, runtime_seconds=runtime, now=ended_at)
        message = _finish_message(state, runtime, exit_code, reason) + " " + note
        _transition(job, state, message=message, at=ended_at, reason=reason)
    return True


def job_reject(*, job_id: int, why: str) -> bool:
    """The cluster refused an admitted job for good: release its hold."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state != JobState.ADMITTED:
            return False
        now = cluster_backend().now()
        job.ended_at, job.runtime_seconds = now, 0
        note = _settle(job, runtime_seconds=0, now=now)
        message = _("Rejected by the cluster: %(w)s.") % {"w": why} + " " + note
        _transition(job, JobState.REJECTED, message=message, at=now, reason="rejected")
    return True


def _finish_message(state: str, runtime: int, exit_code: int | None, reason: str) -> str:
    ran = _duration(runtime)
    if state == JobState.COMPLETED:
        return _("Completed after %(t)s (exit code %(c)s).") % {"t": ran, "c": exit_code}
    if state == JobState.TIMEOUT:
        return _("Stopped at its walltime after %(t)s.") % {"t": ran}
    if state == JobState.CANCELLED:
        return _("Cancelled on the cluster after %(t)s.") % {"t": ran}
    if reason == "node_failure":
        return _("Failed after %(t)s: a node failed.") % {"t": ran}
    return _("Failed after %(t)s (exit code %(c)s).") % {"t": ran, "c": exit_code}


# -- accounting ------------------------------------------------------------------------------


def _settle(job: Job, *, runtime_seconds: int, now: datetime) -> str:
    """Release the whole hold, charge gpus x runtime; returns a note for the job's history."""
    hold_key = job.ledger_key("hold")
    if not LedgerEntry.objects.filter(idempotency_key=hold_key).exists():
        return ""
    project, gpu_type = job.project, job.gpu_type
    hold = job.hold_gpu_hours
    ledger_release(
        project=project,
        gpu_type=gpu_type,
        gpu_hours=hold,
        key=job.ledger_key("release"),
        reason=str(job.uuid),
    )
    charge = (Decimal(job.gpus * runtime_seconds) / 3600).quantize(HOURS)
    note = _("%(h)s GPU-hours released") % {"h": hold}
    if charge > 0:
        try:
            ledger_charge(
                project=project,
                gpu_type=gpu_type,
                gpu_hours=charge,
                key=job.ledger_key("charge"),
                reason=str(job.uuid),
            )
            note += _(", %(c)s charged") % {"c": charge}
        except Conflict as refused:
            # The project was suspended or its allocation ended while the job ran.
            logger.warning("job %s not charged: %s", job.uuid, refused.code)
            note += _(", not charged (%(why)s)") % {"why": refused.code}
    fair_share_add(project_id=job.project_id, gpu_hours=float(charge - hold), now=now)
    return note + "."


def fair_share_add(*, project_id: int, gpu_hours: float, now: datetime) -> None:
    """Add (or with a negative amount, take back) usage; it decays from now on."""
    usage, _created = FairShareUsage.objects.select_for_update().get_or_create(
        project_id=project_id, defaults={"as_of": now}
    )
    half_life = settings.FAIR_SHARE_HALF_LIFE_DAYS * 86_400
    current = decayed(
        usage.decayed_usage_gpu_hours, usage.as_of.timestamp(), now.timestamp(), half_life
    )
    usage.decayed_usage_gpu_hours = max(current + gpu_hours, 0.0)
    usage.as_of = max(usage.as_of, now)
    usage.save(update_fields=["decayed_usage_gpu_hours", "as_of"])


def _runtime_seconds(job: Job, started_at: datetime, ended_at: datetime) -> int:
    seconds = int((ended_at - started_at).total_seconds())
    return max(0, min(seconds, job.walltime_minutes * 60))


# -- helpers ---------------------------------------------------------------------------------


def _lock(job: Job) -> Job:
    locked = Job.objects.select_for_update().filter(pk=job.pk).first()
    if locked is None:
        raise NotFound(_("No such job."))
    return locked


def _require_state(job: Job, allowed: tuple[str, ...]) -> None:
    if job.state not in allowed:
        raise Conflict(
            _("Not possible for a %(s)s job.") % {"s": job.get_state_display()},
            code="invalid_state",
            details={"state": job.state, "allowed": list(allowed)},
        )


def _require_reason(reason: str) -> None:
    """Staff interventions on someone's job say why: the owner reads it in the history."""
    if not reason.strip():
        raise ValidationFailed.on_field("reason", _("Give a reason; the job's owner sees it."))


def _require_staff(user: User) -> None:
    if not user.is_staff:
        raise PermissionDenied(_("Only staff do this."))


def _transition(
    job: Job,
    state: str,
    *,
    message: str,
    actor: User | None = None,
    at: datetime | None = None,
    reason: str = "",
) -> None:
    """Move a locked job to ``state``, save it and record the transition in its history."""
    previous = job.state
    job.state = state
    job.reason = reason if state in (JobState.PENDING, JobState.HELD) else ""
    if state != JobState.PENDING:
        job.estimated_start = None
    job.save()
    _record(job, previous, message=message, actor=actor, at=at, reason=reason)


def _record(
    job: Job,
    previous: str,
    *,
    message: str,
    actor: User | None = None,
    at: datetime | None = None,
    reason: str = "",
) -> JobEvent:
    return JobEvent.objects.create(
        job=job,
        from_state=previous,
        to_state=job.state,
        reason=reason,
        message=message[:500],
        actor=actor,
        at=at or cluster_backend().now(),
    )


def _duration(seconds: int) -> str:
    minutes = round(seconds / 60)
    if seconds < 60:
        return _("%(s)s s") % {"s": seconds}
    if minutes < 60:
        return _("%(m)s min") % {"m": minutes}
    hours, rest = divmod(minutes, 60)
    return _("%(h)s h %(m)s min") % {"h": hours, "m": rest} if rest else _("%(h)s h") % {"h": hours}
