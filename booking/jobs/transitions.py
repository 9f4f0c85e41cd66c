"""Moving jobs between states, one at a time or in bulk, always by ``JOB_TRANSITIONS``.

Every state change of a job goes through here (the services, the cluster's reports, the
admission cycle's bulk admissions and holds) and leaves a ``JobEvent`` in the job's history:
the table of allowed moves is checked in one place.
"""

from collections.abc import Collection, Mapping
from datetime import datetime

from django.utils.translation import gettext as _

from accounts.models import User
from booking.cluster.registry import cluster_backend
from booking.models import JOB_TRANSITIONS, Job, JobEvent, JobReason, JobState
from stargate_portal.errors import Conflict

WAITING_STATES = (JobState.PENDING, JobState.HELD)
"""The states in which a job keeps a reason on its row (why it waits, why it is held)."""


def require_transition(from_state: str, to_state: str) -> None:
    """Refuse (409 ``invalid_state``) a move the table does not allow."""
    if to_state not in JOB_TRANSITIONS[from_state]:
        raise Conflict(
            _("Not possible for a %(s)s job.") % {"s": JobState(from_state).label},
            code="invalid_state",
            details={"state": from_state, "to": to_state},
        )


def require_state(job: Job, allowed: Collection[str]) -> None:
    """Refuse an action that only ``allowed`` states permit (e.g. cancel, requeue)."""
    if job.state not in allowed:
        raise Conflict(
            _("Not possible for a %(s)s job.") % {"s": job.get_state_display()},
            code="invalid_state",
            details={"state": job.state, "allowed": list(allowed)},
        )


def job_transition(
    job: Job,
    state: str,
    *,
    message: str,
    actor: User | None = None,
    at: datetime | None = None,
    reason: str = "",
) -> None:
    """Move a locked job to ``state``, save it and record the move in its history."""
    previous = job.state
    require_transition(previous, state)
    job.state = state
    job.reason = JobReason(reason) if reason and state in WAITING_STATES else ""
    if state != JobState.PENDING:
        job.estimated_start = None
    job.save()
    job_event_record(job, previous, message=message, actor=actor, at=at, reason=reason)


def job_event_record(
    job: Job,
    previous: str,
    *,
    message: str,
    actor: User | None = None,
    at: datetime | None = None,
    reason: str = "",
) -> JobEvent:
    """A line of the job's history: it moved from ``previous`` to its current state."""
    return JobEvent.objects.create(
        job=job,
        from_state=previous,
        to_state=job.state,
        reason=JobReason(reason) if reason else "",
        message=message[:500],
        actor=actor,
        at=at or cluster_backend().now(),
    )


def jobs_move(
    messages: Mapping[int, str],
    *,
    from_state: str,
    to_state: str,
    at: datetime,
    reason: str = "",
    fields: Mapping[str, object] | None = None,
) -> list[int]:
    """Move many jobs from one state to another in a few queries (the admission cycle).

    ``messages`` maps job ids to their history line; jobs no longer in ``from_state`` are left
    alone. ``fields`` are set on every moved row too. Returns the ids that moved.
    """
    require_transition(from_state, to_state)
    if not messages:
        return []
    waiting = to_state in WAITING_STATES
    moving = Job.objects.filter(pk__in=list(messages), state=from_state)
    moved = list(moving.values_list("pk", flat=True))
    Job.objects.filter(pk__in=moved).update(
        state=to_state,
        reason=JobReason(reason) if reason and waiting else "",
        **dict(fields or {}),
    )
    job_events_record_many(
        {pk: messages[pk] for pk in moved},
        from_state=from_state,
        to_state=to_state,
        at=at,
        reason=reason,
    )
    return moved


def job_events_record_many(
    messages: Mapping[int, str],
    *,
    from_state: str,
    to_state: str,
    at: datetime,
    reason: str = "",
) -> None:
    """The history lines of many jobs that made the same move (already written on the rows,
    with the move checked by ``require_transition``)."""
    JobEvent.objects.bulk_create(
        [
            JobEvent(
                job_id=pk,
                at=at,
                from_state=from_state,
                to_state=to_state,
                reason=JobReason(reason) if reason else "",
                message=message[:500],
            )
            for pk, message in messages.items()
        ],
        batch_size=1000,
    )
