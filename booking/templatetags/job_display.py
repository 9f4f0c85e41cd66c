"""How job pages say things: why a job waits (in words), walltimes and runtimes.

The reason codes and their short labels are ``booking.models.JobReason``; the sentences that
explain them to the job's owner are here. Durations read as ``booking.jobs.durations`` says.
"""

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from django import template
from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from booking.jobs.durations import minutes_text, seconds_text
from booking.models import Job, JobReason, JobState
from booking.models.jobs import FINAL_STATES

register = template.Library()


# The badge and the time below are filters rather than included templates: lists show one a
# row, and an include costs its template's nodes and a context push each time.


@register.filter
def job_state_badge(job: Job) -> SafeString:
    """The job's state in a badge coloured by state."""
    return _state_badge(job.state, get_language())


@lru_cache(maxsize=64)
def _state_badge(state: str, language: str | None) -> SafeString:
    """Made once per state and language (the one active when it is made)."""
    label = JobState(state).label if state in JobState._value2member_map_ else state
    return format_html('<span class="badge badge--job-{}">{}</span>', state, label)


@register.filter
def utc_time(at: datetime | None) -> str:
    """A moment as a ``<time>`` element in UTC to the minute; a dash when there is none."""
    if not at:
        return "—"
    # By hand rather than with Django's date formats: this is on every row of most lists,
    # and those formats look up translations for each letter of the pattern.
    at = at.astimezone(UTC)
    return format_html(
        '<time datetime="{}">{} UTC</time>', at.isoformat(), at.strftime("%Y-%m-%d %H:%M")
    )


@register.filter
def reason_label(code: str) -> str:
    """A few words for a reason code (lists); the code itself when it is unknown."""
    return _reason_label(code, get_language())


@lru_cache(maxsize=64)
def _reason_label(code: str, language: str | None) -> str:
    """Looked up once per code and language (the one active when it is made)."""
    return str(JobReason(code).label) if code in JobReason._value2member_map_ else code


@register.filter
def wait_reason(job: Job, position: int | None = None) -> str:
    """Why a pending or held job waits, in a sentence; "" for other states. ``position`` is
    its place in its GPU type's queue, None until an admission cycle has placed it."""
    if job.state == JobState.HELD:
        return _held_reason(job)
    if job.state == JobState.ADMITTED:
        return _cluster_wait(job)
    if job.state != JobState.PENDING:
        return ""
    if job.reason == JobReason.PRIORITY and position is None:
        return _(
            "It is new in the %(gpu)s queue: the next admission cycle, a few seconds from now, "
            "considers it and places it in the queue."
        ) % {"gpu": job.gpu_type.name}
    if job.reason == JobReason.PRIORITY and position == 1:
        return _(
            "It is first in the %(gpu)s queue: the next admission cycle, a few seconds from "
            "now, considers it."
        ) % {"gpu": job.gpu_type.name}
    figures: dict[str, Any] = {
        "gpu": job.gpu_type.name,
        "hours": f"{job.hold_gpu_hours.normalize():,f}",
        "cap": f"{settings.ADMISSION_TIER_CAPS.get(4, 0) * 100:.0f}",
    }
    sentences: dict[str, str] = {
        JobReason.PRIORITY: _(
            "Jobs ahead of it in the %(gpu)s queue go first: those of a better priority tier, "
            "of projects with a lower fair share (less recent use for their allocation), or "
            "submitted earlier."
        ),
        JobReason.CAPACITY: _(
            "Not enough %(gpu)s GPUs are free right now. It starts as running jobs end."
        ),
        JobReason.BUDGET: _(
            "The project's available %(gpu)s GPU-hours do not cover this job's hold of "
            "%(hours)s GPU-hours while other jobs hold hours. It starts when they finish."
        ),
        JobReason.TIER_CAP: _(
            "International work may use at most %(cap)s %% of the %(gpu)s GPUs while "
            "European work is waiting."
        ),
        JobReason.PROJECT_LIMIT: _(
            "The project's limit on running GPUs is reached. It starts when the project's "
            "running jobs end."
        ),
        JobReason.PROJECT_SUSPENDED: _("The project is suspended. Contact Stargate support."),
        JobReason.BOOKING_NOT_STARTED: _("Its capacity booking has not started yet."),
        JobReason.ALLOCATION_INACTIVE: _("The project's %(gpu)s allocation is not active today."),
        JobReason.NO_ALLOCATION: _("The project has no %(gpu)s allocation."),
    }
    sentence = sentences.get(
        job.reason, _("It waits for the next admission cycle, a few seconds from now.")
    )
    return sentence % figures


def _cluster_wait(job: Job) -> str:
    """Why an admitted job has not started on the cluster yet ("" when nothing is known)."""
    sentences: dict[str, str] = {
        JobReason.CLUSTER_UNAVAILABLE: _(
            "The cluster does not answer right now. The job is sent as soon as it does; "
            "nothing is lost or sent twice."
        ),
        JobReason.CLUSTER_QUEUE: _(
            "It is in the cluster's queue and starts when its nodes free up."
        ),
        JobReason.BUDGET: _(
            "The cluster's own GPU-minute limit for the project is reached. Contact Stargate "
            "support."
        ),
        JobReason.PROJECT_LIMIT: _("A limit of the project's cluster account holds it."),
        JobReason.BOOKING_NOT_STARTED: _("Its capacity booking has not started yet."),
        JobReason.HELD_BY_STAFF: _("A cluster administrator holds it."),
    }
    return sentences.get(job.reason, "")


def _held_reason(job: Job) -> str:
    if job.reason == JobReason.BUDGET_EXHAUSTED:
        return _(
            "Held: the project's %(gpu)s GPU-hours cannot cover this job. Ask your PI for a "
            "top-up; Stargate staff then release it."
        ) % {"gpu": job.gpu_type.name}
    if job.reason == JobReason.PROJECT_SUSPENDED:
        return _("Held: the project is suspended. Contact Stargate support.")
    return _("Held by Stargate staff; their reason is in the history below.")


@register.filter
def minutes_label(minutes: int | None) -> str:
    """90 → "1 h 30 min"."""
    return "—" if minutes is None else minutes_text(minutes)


@register.filter
def seconds_label(seconds: int | None) -> str:
    """5400 → "1 h 30 min"; under a minute in seconds."""
    return "—" if seconds is None else seconds_text(seconds)


@register.filter
def is_final(job: Job) -> bool:
    """Nothing more will happen to the job (its rows and page stop polling)."""
    return job.state in FINAL_STATES
