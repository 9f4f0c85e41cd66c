"""How job pages say things: why a job waits (in words), walltimes and runtimes.

The reason codes are those of the admission controller (``booking.scheduler.WaitReason``) and
of the services (held for budget or by staff); each has one name and one sentence here.
"""

from typing import Any

from django import template
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking.models import Job, JobState
from booking.models.jobs import FINAL_STATES

register = template.Library()

REASON_LABELS = {
    "priority": gettext_lazy("Priority"),
    "capacity": gettext_lazy("GPUs busy"),
    "budget": gettext_lazy("Budget"),
    "budget_exhausted": gettext_lazy("Budget exhausted"),
    "tier_cap": gettext_lazy("Tier cap"),
    "project_limit": gettext_lazy("Project limit"),
    "project_suspended": gettext_lazy("Project suspended"),
    "booking_not_started": gettext_lazy("Booking not started"),
    "allocation_inactive": gettext_lazy("Allocation not active"),
    "no_allocation": gettext_lazy("No allocation"),
    "held_by_staff": gettext_lazy("Held by staff"),
    "node_failure": gettext_lazy("Node failure"),
    "lost": gettext_lazy("Lost by the cluster"),
    "rejected": gettext_lazy("Rejected by the cluster"),
}


@register.filter
def reason_label(code: str) -> str:
    """A few words for a reason code (lists); the code itself when it is unknown."""
    return str(REASON_LABELS.get(code, code))


@register.filter
def wait_reason(job: Job, position: int | None = None) -> str:
    """Why a pending or held job waits, in a sentence; "" for other states. ``position`` is
    its place in its GPU type's queue, when known."""
    if job.state == JobState.HELD:
        return _held_reason(job)
    if job.state != JobState.PENDING:
        return ""
    if job.reason == "priority" and position == 1:
        return _(
            "It is first in the %(gpu)s queue: the next admission cycle, a few seconds from "
            "now, considers it."
        ) % {"gpu": job.gpu_type.name}
    figures: dict[str, Any] = {
        "gpu": job.gpu_type.name,
        "hours": f"{job.hold_gpu_hours.normalize():,f}",
        "cap": f"{settings.ADMISSION_TIER_CAPS.get(4, 0) * 100:.0f}",
    }
    sentences = {
        "priority": _(
            "Jobs ahead of it in the %(gpu)s queue go first: those of a better priority tier, "
            "of projects with a lower fair share (less recent use for their allocation), or "
            "submitted earlier."
        ),
        "capacity": _("Not enough %(gpu)s GPUs are free right now. It starts as running jobs end."),
        "budget": _(
            "The project's available %(gpu)s GPU-hours do not cover this job's hold of "
            "%(hours)s GPU-hours while other jobs hold hours. It starts when they finish."
        ),
        "tier_cap": _(
            "International work may use at most %(cap)s %% of the %(gpu)s GPUs while "
            "European work is waiting."
        ),
        "project_limit": _(
            "The project's limit on running GPUs is reached. It starts when the project's "
            "running jobs end."
        ),
        "project_suspended": _("The project is suspended. Contact Stargate support."),
        "booking_not_started": _("Its capacity booking has not started yet."),
        "allocation_inactive": _("The project's %(gpu)s allocation is not active today."),
        "no_allocation": _("The project has no %(gpu)s allocation."),
    }
    sentence = sentences.get(
        job.reason, _("It waits for the next admission cycle, a few seconds from now.")
    )
    return sentence % figures


def _held_reason(job: Job) -> str:
    if job.reason == "budget_exhausted":
        return _(
            "Held: the project's %(gpu)s GPU-hours cannot cover this job. Ask your PI for a "
            "top-up; Stargate staff then release it."
        ) % {"gpu": job.gpu_type.name}
    if job.reason == "project_suspended":
        return _("Held: the project is suspended. Contact Stargate support.")
    return _("Held by Stargate staff; their reason is in the history below.")


@register.filter
def minutes_label(minutes: int | None) -> str:
    """90 → "1 h 30 min"."""
    if minutes is None:
        return "—"
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return _("%(m)s min") % {"m": rest}
    if not rest:
        return _("%(h)s h") % {"h": hours}
    return _("%(h)s h %(m)s min") % {"h": hours, "m": rest}


@register.filter
def seconds_label(seconds: int | None) -> str:
    """5400 → "1 h 30 min"; under a minute in seconds."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return _("%(s)s s") % {"s": seconds}
    return minutes_label(round(seconds / 60))


@register.filter
def is_final(job: Job) -> bool:
    """Nothing more will happen to the job (its rows and page stop polling)."""
    return job.state in FINAL_STATES
