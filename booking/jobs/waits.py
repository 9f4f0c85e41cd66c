"""Why a pending job waits for GPUs: the job its GPU type keeps room for (the backfill
reservation of the latest admission cycle) and when that job could start.

Two indexed reads per job whatever the queue's length: the latest cycle, then its row for the
job's GPU type (``AdmissionReservation``, written by the admission cycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Subquery
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from booking.cluster.clock import cluster_today
from booking.jobs.priority import project_tiers
from booking.models import AdmissionCycle, AdmissionReservation, Job, JobReason, JobState

_GPU_WAITS = (JobReason.CAPACITY, JobReason.PRIORITY)


@dataclass(frozen=True)
class WaitExplanation:
    """``reserved_job`` (the job kept room for; may be this one) and its ``expected_at``."""

    reserved_job: int | None
    reserved_job_tier: int
    gpus: int
    whole_nodes: int
    expected_at: datetime | None
    is_this_job: bool
    summary: str
    """Who it waits for and what that job needs (pages add ``expected_at`` in local time)."""

    @property
    def message(self) -> str:
        """The summary with the expected time (UTC), as the API gives it."""
        when = self.expected_at.isoformat() if self.expected_at else _("not foreseeable yet")
        return _("%(summary)s Expected at %(when)s.") % {"summary": self.summary, "when": when}


def job_wait_explanation(
    job: Job, *, today: date | None = None, tier: int | None = None
) -> WaitExplanation | None:
    """The explanation of a pending job waiting for GPUs; None for any other job. ``today``
    is the cluster's date when the caller has read the clock already; ``tier`` the job's
    project's tier in the latest cycle's record when the caller has it (``JobStanding.tier``):
    the reserved job's tier is from that cycle too, so the two compare as the cycle ordered
    them, and no tier is computed here."""
    if job.state != JobState.PENDING or job.reason not in _GPU_WAITS:
        return None
    latest = AdmissionCycle.objects.order_by("-started_at", "-pk").values("pk")[:1]
    row = AdmissionReservation.objects.filter(
        cycle_id=Subquery(latest), gpu_type_id=job.gpu_type_id
    ).first()
    if row is None:
        return None
    per_node = job.gpu_type.gpus_per_node
    nodes = -(-row.gpus // per_node) if row.gpus > per_node else 0
    mine = row.job_id == job.pk
    if not mine and tier is None:
        tier = project_tiers([job.project_id], today=today or cluster_today()).get(job.project_id)
    summary = _summary(row, mine, nodes, None if mine else tier)
    return WaitExplanation(row.job_id, row.tier, row.gpus, nodes, row.shadow_time, mine, summary)


def _summary(row: AdmissionReservation, mine: bool, nodes: int, tier: int | None) -> str:
    if nodes:
        need = ngettext(
            "%(g)s GPUs on %(n)s whole node", "%(g)s GPUs on %(n)s whole nodes", nodes
        ) % {"g": row.gpus, "n": nodes}
    else:
        need = ngettext("%(g)s GPU on one node", "%(g)s GPUs on one node", row.gpus) % {
            "g": row.gpus
        }
    if mine:
        return _("Room is kept for this job: it waits for %(need)s.") % {"need": need}
    if tier is None or row.tier == tier:
        rank = _("of the same tier")
    elif row.tier < tier:
        rank = _("of a higher tier")
    else:
        rank = _("of a lower tier that was blocked first")
    return _(
        "Waiting for job %(job)s %(rank)s, which needs %(need)s; until it starts, only jobs that "
        "end before then may start first."
    ) % {"job": row.job_id, "rank": rank, "need": need}
