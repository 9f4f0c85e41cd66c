"""Staff: the cluster per GPU type with a chart, the queue with hold/release/cancel/requeue,
the projects' fair share, and the last admission cycles."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, gettext_lazy

from accounts.console.access import StaffRequest, staff_required
from accounts.models import User
from accounts.portal.pagination import PAGE_SIZE, page_of
from accounts.tiers import PriorityTier
from booking.admission.console.forms import FairShareFilterForm, JobActionForm, QueueFilterForm
from booking.admission.selectors import admission_cycles_recent
from booking.charts.cluster import cluster_chart, cluster_rows
from booking.cluster.registry import cluster_backend
from booking.jobs.priority import fair_share_table_recent, project_tiers
from booking.jobs.queue import queue_overview, staff_queue
from booking.jobs.selectors import QUEUED_STATES, JobCounts, gpu_type_names, job_counts, job_of
from booking.jobs.services import (
    CANCELLABLE,
    JOB_REASON_MAX_CHARS,
    REQUEUEABLE,
    job_cancel,
    job_hold,
    job_release,
    job_requeue,
)
from booking.models import Job, JobState
from stargate_portal.errors import DomainError

RECENT_CYCLES = 50
JOB_ACTION_URL = "admission_console:cluster_job_action"
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
    }
    return render(request, "admission/console/overview.html", context)


# -- the queue and the staff actions ---------------------------------------------------------


@dataclass(frozen=True)
class JobAction:
    slug: str
    title: Promise
    done: Promise
    states: tuple[str, ...]
    needs_reason: bool
    run: Callable[[Job, User, str], Job]


ACTIONS = {
    action.slug: action
    for action in (
        JobAction(
            "hold",
            gettext_lazy("Hold"),
            gettext_lazy("The job is held."),
            (JobState.PENDING,),
            True,
            lambda job, staff, reason: job_hold(job=job, staff=staff, reason=reason),
        ),
        JobAction(
            "release",
            gettext_lazy("Release"),
            gettext_lazy("The job is back in the queue."),
            (JobState.HELD,),
            False,
            lambda job, staff, _reason: job_release(job=job, staff=staff),
        ),
        JobAction(
            "cancel",
            gettext_lazy("Cancel"),
            gettext_lazy("The job is cancelled."),
            CANCELLABLE,
            False,
            lambda job, staff, _reason: job_cancel(job=job, user=staff),
        ),
        JobAction(
            "requeue",
            gettext_lazy("Requeue"),
            gettext_lazy("The job is queued again as a new attempt."),
            REQUEUEABLE,
            True,
            lambda job, staff, reason: job_requeue(job=job, staff=staff, reason=reason),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class _ActionLabels:
    """One action's words, translated once per page rather than once per row."""

    slug: str
    title: str
    reason_label: str
    needs_reason: bool
    danger: bool


@dataclass(frozen=True, slots=True)
class _RowAction:
    labels: _ActionLabels
    url: str


@staff_required
def cluster_queue(request: StaffRequest) -> HttpResponse:
    filters = QueueFilterForm(request.GET or None, gpu_types=gpu_type_names())
    chosen = filters.cleaned_data if filters.is_valid() else {}
    today = cluster_backend().now().date()
    state = chosen.get("state")
    jobs = staff_queue(
        states=[state] if state else QUEUED_STATES,
        gpu_type=chosen.get("gpu_type", ""),
        tier=chosen.get("tier"),
        today=today,
    )
    page = page_of(request, jobs, count_max=QUEUE_COUNT_MAX)
    tiers = project_tiers({job.project_id for job in page}, today=today)
    labels = [
        _ActionLabels(
            slug=action.slug,
            title=str(action.title),
            reason_label=gettext("Reason to %(action)s") % {"action": action.title},
            needs_reason=action.needs_reason,
            danger=action.slug == "cancel",
        )
        for action in ACTIONS.values()
    ]
    rows = [
        (
            job,
            PriorityTier(tiers.get(job.project_id, PriorityTier.INTERNATIONAL)),
            [
                _RowAction(label, reverse(JOB_ACTION_URL, args=[job.pk, label.slug]))
                for label, action in zip(labels, ACTIONS.values(), strict=True)
                if job.state in action.states
            ],
        )
        for job in page
    ]
    context = {
        "filters": filters,
        "page": page,
        "rows": rows,
        "here": request.get_full_path(),
        "reason_max": JOB_REASON_MAX_CHARS,
    }
    return render(request, "admission/console/queue.html", context)


@staff_required
def cluster_job_action(request: StaffRequest, pk: int, action: str) -> HttpResponse:
    """Confirm (GET) and do (POST) one staff action on a job; errors next to the reason."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404
    job = job_of(request.user, pk)
    initial = {"next": request.GET.get("next", "")}
    data = request.POST if request.method == "POST" else None
    form = JobActionForm(data, initial=initial, reason_required=spec.needs_reason)
    if request.method == "POST" and form.is_valid():
        try:
            spec.run(job, request.user, form.cleaned_data.get("reason", ""))
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(request, str(spec.done))
            return redirect(_next(request, form.cleaned_data.get("next", "")))
    context = {"job": job, "action": spec, "form": form, "allowed": job.state in spec.states}
    return render(request, "admission/console/job_action.html", context)


def _next(request: StaffRequest, target: str) -> str:
    """Where to go after an action: a path of this site ("/console/cluster/queue/?page=3"),
    else the queue. Only a path: ``redirect`` reads any other text as a view's name, and a
    posted "-1" was a 500 (NoReverseMatch)."""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("admission_console:cluster_queue")


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
    context: dict[str, Any] = {
        "filters": filters,
        "page": page,
        "rows": [(row, PriorityTier(row.tier), counts.get(row.pk, JobCounts())) for row in page],
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
