"""Staff: the cluster per GPU type with a chart, the queue with hold/release/cancel/requeue,
the projects' fair share, and the last admission cycles."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy, ngettext, ngettext_lazy

from accounts.console.access import StaffRequest, staff_required
from accounts.models import User
from accounts.portal.pagination import PAGE_SIZE, page_of
from accounts.tiers import PriorityTier
from booking.admission.console.forms import FairShareFilterForm, QueueActionForm, QueueFilterForm
from booking.admission.console.rows import QUEUE_ROW_FIELDS, fair_share_rows, queue_rows
from booking.admission.selectors import admission_cycles_recent
from booking.charts.cluster import cluster_chart, cluster_rows
from booking.cluster.registry import cluster_backend
from booking.jobs.priority import fair_share_table_recent, project_tiers
from booking.jobs.queue import queue_overview, staff_queue
from booking.jobs.selectors import (
    QUEUED_STATES,
    JobCounts,
    cluster_cancels_waiting,
    gpu_type_names,
    job_counts,
)
from booking.jobs.services import (
    cluster_cancels_together,
    job_cancel,
    job_hold,
    job_release,
    job_requeue,
)
from booking.models import Job
from stargate_portal.errors import DomainError

RECENT_CYCLES = 50
QUEUE_COUNT_MAX = 1_000
"""The queue page counts this many jobs at most: the site's queue has 100,000 and more."""


@staff_required
def cluster_overview(request: StaffRequest) -> HttpResponse:
    rows = cluster_rows(queue_overview(today=cluster_backend().now().date()))
    cycles = admission_cycles_recent(1)
    context = {
        "rows": rows,
        "chart": cluster_chart(rows),
        "totals": {
            "total": sum(row.total_gpus for row in rows),
            "used": sum(row.used_gpus for row in rows),
            "free": sum(row.free_gpus for row in rows),
            "pending": sum(row.pending_jobs_total for row in rows),
        },
        "tiers": list(PriorityTier),
        "last_cycle": cycles[0] if cycles else None,
        "cancels_waiting": cluster_cancels_waiting(),
    }
    return render(request, "admission/console/overview.html", context)


# -- the queue and the staff actions ---------------------------------------------------------


@dataclass(frozen=True)
class JobAction:
    """A staff action on a job; its service decides which states allow it."""

    slug: str
    title: Promise
    done: Promise  # "%(n)d jobs are held.", by the number of jobs
    needs_reason: bool
    run: Callable[[Job, User, str], Job]


ACTIONS = {
    action.slug: action
    for action in (
        JobAction(
            "hold",
            gettext_lazy("Hold"),
            ngettext_lazy("%(n)d job is held.", "%(n)d jobs are held.", "n"),
            True,
            lambda job, staff, reason: job_hold(job=job, staff=staff, reason=reason),
        ),
        JobAction(
            "release",
            gettext_lazy("Release"),
            ngettext_lazy(
                "%(n)d job is back in the queue.", "%(n)d jobs are back in the queue.", "n"
            ),
            False,
            lambda job, staff, _reason: job_release(job=job, staff=staff),
        ),
        JobAction(
            "cancel",
            gettext_lazy("Cancel"),
            ngettext_lazy("%(n)d job is cancelled.", "%(n)d jobs are cancelled.", "n"),
            False,
            lambda job, staff, _reason: job_cancel(job=job, user=staff),
        ),
        JobAction(
            "requeue",
            gettext_lazy("Requeue"),
            ngettext_lazy(
                "%(n)d job is queued again as a new attempt.",
                "%(n)d jobs are queued again as new attempts.",
                "n",
            ),
            True,
            lambda job, staff, reason: job_requeue(job=job, staff=staff, reason=reason),
        ),
    )
}


ACTIONS_LISTED = 10
"""Jobs an action's refusals name on the page (it says how many more there were)."""


@staff_required
def cluster_queue(request: StaffRequest) -> HttpResponse:
    """The queue, and (POST) one action on the jobs ticked on it; then the same page again."""
    action_form = QueueActionForm(
        request.POST if request.method == "POST" else None,
        actions={slug: (action.title, action.needs_reason) for slug, action in ACTIONS.items()},
    )
    if action_form.is_valid():
        _act_on_jobs(
            request,
            ACTIONS[action_form.cleaned_data["action"]],
            action_form.cleaned_data["jobs"],
            action_form.cleaned_data["reason"],
        )
        return redirect(request.get_full_path())
    filters = QueueFilterForm(request.GET or None, gpu_types=gpu_type_names())
    chosen = filters.cleaned_data if filters.is_valid() else {}
    today = cluster_backend().now().date()
    state = chosen.get("state")
    jobs = staff_queue(
        states=[state] if state else QUEUED_STATES,
        gpu_type=chosen.get("gpu_type", ""),
        tier=chosen.get("tier"),
        today=today,
    ).only(*QUEUE_ROW_FIELDS)
    page = page_of(request, jobs, count_max=QUEUE_COUNT_MAX)
    tiers = project_tiers({job.project_id for job in page}, today=today)
    rows = [
        (job, PriorityTier(tiers.get(job.project_id, PriorityTier.INTERNATIONAL))) for job in page
    ]
    context = {
        "filters": filters,
        "page": page,
        "rows": rows,
        "table_rows": queue_rows(rows, action_form.ticked()),
        "action_form": action_form,
    }
    return render(request, "admission/console/queue.html", context)


def _act_on_jobs(
    request: StaffRequest, action: JobAction, jobs: Iterable[Job], reason: str
) -> None:
    """``action`` on each job in its own transaction, as its service decides: a job whose
    state no longer allows it (another staff member or the cycle was first) is named in a
    warning and the others go on. The running jobs it stops are cancelled on the cluster in
    one call at the end."""
    done = 0
    refused: list[str] = []
    with cluster_cancels_together():
        for job in jobs:
            try:
                action.run(job, request.user, reason)
            except DomainError as error:
                refused.append(f"{job.name} (#{job.pk}): {error.message}")
            else:
                done += 1
    if done:
        messages.success(request, action.done % {"n": done})
    if refused:
        listed = "; ".join(refused[:ACTIONS_LISTED])
        more = len(refused) - ACTIONS_LISTED
        if more > 0:
            listed += " " + ngettext("(and %(n)d more)", "(and %(n)d more)", more) % {"n": more}
        messages.warning(
            request,
            ngettext(
                "%(n)d job was left as it was: %(jobs)s",
                "%(n)d jobs were left as they were: %(jobs)s",
                len(refused),
            )
            % {"n": len(refused), "jobs": listed},
        )


# -- fair share and admission cycles ---------------------------------------------------------


@staff_required
def cluster_fair_share(request: StaffRequest) -> HttpResponse:
    filters = FairShareFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    table = fair_share_table_recent(
        now=cluster_backend().now(),
        tier=chosen.get("tier"),
        search=(chosen.get("q") or "").strip(),
    )
    page = Paginator(table.rows, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = job_counts([row.pk for row in page])
    rows = [(row, PriorityTier(row.tier), counts.get(row.pk, JobCounts())) for row in page]
    context: dict[str, Any] = {
        "filters": filters,
        "page": page,
        "rows": rows,
        "table_rows": fair_share_rows(rows),
        "filtered": bool(chosen.get("tier") or chosen.get("q")),
        "half_life": f"{settings.FAIR_SHARE_HALF_LIFE_DAYS:g}",
        "as_of": table.as_of,
        "max_age": settings.FAIR_SHARE_TABLE_SECONDS,
    }
    return render(request, "admission/console/fair_share.html", context)


@staff_required
def cluster_cycles(request: StaffRequest) -> HttpResponse:
    context = {"cycles": admission_cycles_recent(RECENT_CYCLES), "limit": RECENT_CYCLES}
    return render(request, "admission/console/cycles.html", context)
