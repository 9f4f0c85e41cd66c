"""My jobs: submit (with a budget preview), the list with live states, a job's page, cancel;
the jobs section of a project page and of the dashboard (htmx fragments)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.portal.access import AuthenticatedRequest
from accounts.portal.pagination import page_of
from booking.cluster.clock import cluster_today
from booking.cluster.registry import cluster_backend
from booking.energy.selectors import job_energy
from booking.grants.selectors.projects import gpu_types_allocated, member_projects, project_of
from booking.jobs.portal.forms import JobFilterForm, JobSubmitForm, walltime_minutes
from booking.jobs.queue import queue_standing
from booking.jobs.selectors import (
    cancel_waits_for_cluster,
    gpu_type_names,
    job_counts,
    job_history,
    job_of,
    listed_jobs_of,
    member_jobs,
    project_live_jobs,
)
from booking.jobs.services import CANCELLABLE, job_cancel, job_submit
from booking.jobs.waits import job_wait_explanation
from booking.ledger.budget import BudgetVerdict, budget_verdict
from booking.ledger.selectors import (
    Balance,
    BurnRate,
    budget_of,
    job_ledger_entries,
    project_burn_rates,
)
from booking.models import FINAL_STATES, Job, Project
from booking.permissions import can_cancel_job
from booking.scheduler.hours import hold_gpu_hours
from stargate_portal.errors import DomainError
from stargate_portal.input_limits import ID_MAX, whole_number

PROJECT_SECTION_JOBS = 10
DASHBOARD_PROJECTS = 10
JOB_LIST_COUNT_MAX = 1_000
"""The job list counts this many jobs at most (a busy project has many more)."""
JOB_ROWS_MAX = 50
"""Rows one poll of a job list asks for at most (a page shows 25)."""


def fragment(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``login_required`` for the parts htmx loads into a page: once logged out, htmx gets
    "204 No Content" and leaves the page as it is (rather than the login page in a row)."""
    protected = login_required(view)

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "htmx", False) and not request.user.is_authenticated:
            return HttpResponse(status=204)
        return protected(request, *args, **kwargs)

    return wrapped


# -- my jobs ---------------------------------------------------------------------------------


@login_required
def job_list(request: AuthenticatedRequest) -> HttpResponse:
    projects = list(member_projects(request.user).values_list("pk", "name"))
    filters = JobFilterForm(request.GET or None, projects=projects, gpu_types=gpu_type_names())
    chosen = filters.cleaned_data if filters.is_valid() else {}
    jobs = member_jobs(request.user)
    if project := chosen.get("project"):
        jobs = jobs.filter(project_id=project)
    if state := chosen.get("state"):
        jobs = jobs.filter(state=state)
    if gpu_type := chosen.get("gpu_type"):
        jobs = jobs.filter(gpu_type__name=gpu_type)
    page = page_of(request, jobs, count_max=JOB_LIST_COUNT_MAX)
    context = {
        "filters": filters,
        "filtered": any(chosen.values()),
        "page": page,
        "has_projects": bool(projects),
    }
    context |= _polled_rows(list(page.object_list))
    return render(request, "jobs/job_list.html", context)


def _polled_rows(jobs: Sequence[Job]) -> dict[str, Any]:
    """The rows of a job list and, while one of them can still change, the query string that
    fetches them again: one request per list every few seconds, not one per row (a page of 25
    waiting jobs polled row by row was 5 requests a second for as long as it stayed open)."""
    live = any(job.state not in FINAL_STATES for job in jobs)
    return {"jobs": jobs, "poll": urlencode([("job", job.pk) for job in jobs]) if live else ""}


@fragment
def job_list_rows(request: AuthenticatedRequest) -> HttpResponse:
    """The rows a job list shows (``?job=`` once per row, in the list's order), as they are
    now; htmx polls them until every one is final. A job the user cannot see is left out."""
    asked = [whole_number(value, ID_MAX) for value in request.GET.getlist("job")]
    ids = [pk for pk in asked if pk is not None]
    if not 0 < len(asked) <= JOB_ROWS_MAX or len(ids) < len(asked):
        return HttpResponseBadRequest(
            _("Give the rows as ?job=<id>, at most %(n)s of them.") % {"n": JOB_ROWS_MAX},
            content_type="text/plain; charset=utf-8",
        )
    found = {job.pk: job for job in listed_jobs_of(request.user).filter(pk__in=ids)}
    jobs = [found[pk] for pk in dict.fromkeys(ids) if pk in found]
    return render(request, "jobs/includes/job_list_rows.html", _polled_rows(jobs))


# -- submit ----------------------------------------------------------------------------------


def _submit_form(request: AuthenticatedRequest) -> JobSubmitForm:
    projects = member_projects(request.user)
    initial: dict[str, Any] = {}
    if (chosen := whole_number(request.GET.get("project"), ID_MAX)) is not None:
        initial["project"] = chosen
    elif (only := projects.values_list("pk", flat=True)[:2]) and len(only) == 1:
        initial["project"] = only[0]
    # "Submit a job into this booking" links here with the booking, its GPU type and size.
    for name in ("booking", "gpus"):
        if (value := whole_number(request.GET.get(name))) is not None:
            initial[name] = value
    if gpu_type := request.GET.get("gpu_type", "").strip()[:100]:
        initial["gpu_type"] = gpu_type
    data = request.POST if request.method == "POST" else None
    return JobSubmitForm(
        data, projects=projects, gpu_types=gpu_types_allocated(projects), initial=initial
    )


@login_required
def job_submit_view(request: AuthenticatedRequest) -> HttpResponse:
    form = _submit_form(request)
    if request.method == "POST" and form.is_valid():
        try:
            submission = job_submit(user=request.user, **form.service_kwargs())
        except DomainError as error:
            form.add_service_error(error)
        else:
            if submission.created:
                messages.success(request, _("Your job is queued."))
            else:
                messages.info(request, _("This job was already submitted; here it is."))
            return redirect("jobs:job_detail", pk=submission.job.pk)
    data = form.data or form.initial
    context = {
        "form": form,
        "budget": _budget(request, data),
        "booking": whole_number(data.get("booking")),
    }
    return render(request, "jobs/job_submit.html", context)


@fragment
def job_gpu_types(request: AuthenticatedRequest) -> HttpResponse:
    """The GPU type input for the chosen project (htmx, when the project changes)."""
    form = _submit_form(request)
    response = render(request, "jobs/includes/gpu_type_field.html", {"form": form})
    response["HX-Trigger-After-Settle"] = "budget-inputs-changed"
    return response


@fragment
def job_budget(request: AuthenticatedRequest) -> HttpResponse:
    """The budget preview of the submit form (htmx, as the inputs change)."""
    context = {
        "budget": _budget(request, request.GET),
        "booking": whole_number(request.GET.get("booking")),
    }
    return render(request, "jobs/includes/budget.html", context)


@dataclass(frozen=True)
class BudgetPreview:
    """The hold a job will place (gpus x walltime) against its project's balance of a type."""

    project: Project
    gpu_type: str
    hold_gpu_hours: Decimal
    balance: Balance

    @property
    def after_gpu_hours(self) -> Decimal:
        return self.balance.available - self.hold_gpu_hours

    @property
    def verdict(self) -> BudgetVerdict:
        """What ``job_submit`` and the admission cycle will say of this hold."""
        return budget_verdict(hold_gpu_hours=self.hold_gpu_hours, balance=self.balance)


def _budget(request: AuthenticatedRequest, data: Any) -> BudgetPreview | None:
    project_pk = whole_number(getattr(data.get("project"), "pk", data.get("project")), ID_MAX)
    gpus = whole_number(data.get("gpus"))
    minutes = walltime_minutes(str(data.get("walltime") or ""))
    gpu_type = str(data.get("gpu_type") or "")
    if project_pk is None or not gpus or not minutes or not gpu_type:
        return None
    project = member_projects(request.user).filter(pk=project_pk).first()
    balance = budget_of(project, gpu_type) if project is not None else None
    if project is None or balance is None:
        return None
    return BudgetPreview(project, gpu_type, hold_gpu_hours(gpus, minutes), balance)


# -- a job -----------------------------------------------------------------------------------


@login_required
def job_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    job = job_of(request.user, pk)
    return render(request, "jobs/job_detail.html", _job_context(request, job))


@fragment
def job_live(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The changing part of a job's page (htmx polls it until the job is final)."""
    job = job_of(request.user, pk)
    return render(request, "jobs/includes/job_live.html", _job_context(request, job))


def _job_context(request: AuthenticatedRequest, job: Job) -> dict[str, Any]:
    now = cluster_backend().now()
    standing = queue_standing(job, now=now)
    return {
        "job": job,
        "position": standing.position,
        "estimated_start": standing.estimated_start,
        "standing": standing,
        "wait_explanation": job_wait_explanation(job, today=cluster_today(now), tier=standing.tier),
        "history": job_history(job),
        "ledger_entries": job_ledger_entries(job),
        "can_cancel": job.state in CANCELLABLE and can_cancel_job(request.user, job),
        "energy": job_energy(job),
        "cancel_waits": cancel_waits_for_cluster(job),
    }


@login_required
@require_POST
def job_cancel_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    job = job_of(request.user, pk)
    try:
        job_cancel(job=job, user=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The job is cancelled."))
    return redirect("jobs:job_detail", pk=job.pk)


# -- sections of other pages -----------------------------------------------------------------


@fragment
def project_jobs(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The jobs section of a project page: running and waiting jobs, and the burn rate."""
    project = project_of(request.user, pk)
    context = {
        "project": project,
        "jobs": project_live_jobs(project, limit=PROJECT_SECTION_JOBS),
        "counts": job_counts([project.pk]).get(project.pk),
        "burn_rates": _burning(project_burn_rates(project, now=timezone.now())),
        "is_member": member_projects(request.user).filter(pk=project.pk).exists(),
    }
    return render(request, "jobs/includes/project_jobs.html", context)


def _burning(rates: list[BurnRate]) -> list[BurnRate]:
    """The rates, unless nothing was charged in the week and nothing is held."""
    return rates if any(r.charged_7d_gpu_hours or r.held_gpu_hours for r in rates) else []


@fragment
def job_dashboard(request: AuthenticatedRequest) -> HttpResponse:
    """The "My projects and jobs" section of the dashboard."""
    projects = list(member_projects(request.user)[: DASHBOARD_PROJECTS + 1])
    counts = job_counts([project.pk for project in projects])
    context = {
        "rows": [(project, counts.get(project.pk)) for project in projects[:DASHBOARD_PROJECTS]],
        "more_projects": len(projects) > DASHBOARD_PROJECTS,
        "recent_jobs": list(member_jobs(request.user)[:5]),
    }
    return render(request, "jobs/includes/dashboard_jobs.html", context)
