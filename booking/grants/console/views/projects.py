"""Staff: all projects with balances; a project's top-ups, adjustments, extensions, state,
and the audit trail of its extensions and suspensions."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.console.access import StaffRequest, staff_required
from accounts.portal.pagination import page_of
from booking.grants.console.forms import (
    ExtendForm,
    MovementForm,
    ProjectFilterForm,
    ProjectStateForm,
)
from booking.grants.portal.forms import plain
from booking.grants.portal.views.projects import project_context
from booking.grants.selectors.projects import (
    allocations_of,
    audit_trail_of,
    project_of,
    projects_of,
)
from booking.grants.services.projects import (
    allocation_extend,
    project_adjust,
    project_set_state,
    project_top_up,
)
from booking.ledger.selectors import balances_by_project
from booking.ledger.services import Movement
from booking.models import GpuType, Project, ProjectState
from stargate_portal.errors import DomainError


@staff_required
def project_list(request: StaffRequest) -> HttpResponse:
    filters = ProjectFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    projects = projects_of(request.user)
    if state := chosen.get("state"):
        projects = projects.filter(state=state)
    if search := chosen.get("q", "").strip():
        projects = projects.filter(name__icontains=search)
    page = page_of(request, projects)
    balances = balances_by_project([project.pk for project in page])
    rows = [(project, sorted(balances[project.pk].items())) for project in page]
    context = {"filters": filters, "page": page, "rows": rows}
    return render(request, "grants/console/project_list.html", context)


@staff_required
def project_detail(request: StaffRequest, pk: int) -> HttpResponse:
    return _page(request, project_of(request.user, pk))


@staff_required
@require_POST
def project_top_up_view(request: StaffRequest, pk: int) -> HttpResponse:
    return _move(request, project_of(request.user, pk), project_top_up, "top_up_form")


@staff_required
@require_POST
def project_adjust_view(request: StaffRequest, pk: int) -> HttpResponse:
    return _move(request, project_of(request.user, pk), project_adjust, "adjust_form")


def _move(
    request: StaffRequest, project: Project, service: Callable[..., Movement], form_name: str
) -> HttpResponse:
    form = MovementForm(request.POST, gpu_types=_gpu_types(project), prefix=form_name)
    if form.is_valid():
        data = form.cleaned_data
        try:
            movement = service(
                project=project,
                staff=request.user,
                gpu_type=GpuType.objects.get(name=data["gpu_type"]),
                gpu_hours=data["gpu_hours"],
                reason=data["reason"],
                key=data["idempotency_key"],
            )
        except DomainError as error:
            form.add_service_error(error)
        else:
            if movement.created:
                messages.success(
                    request,
                    _("Recorded: %(hours)s GPU-hours of %(gpu)s.")
                    % {"hours": plain(movement.entry.gpu_hours), "gpu": data["gpu_type"]},
                )
            else:
                messages.info(request, _("This was already recorded; nothing changed."))
            return redirect("grants_console:project_detail", pk=project.pk)
    return _page(request, project, **{form_name: form})


@staff_required
@require_POST
def allocation_extend_view(request: StaffRequest, pk: int, allocation_pk: int) -> HttpResponse:
    project = project_of(request.user, pk)
    allocation = get_object_or_404(allocations_of(project), pk=allocation_pk)
    form = ExtendForm(request.POST, prefix=f"extend-{allocation.pk}")
    if form.is_valid():
        try:
            extended = allocation_extend(
                allocation=allocation,
                staff=request.user,
                ends_on=form.cleaned_data["ends_on"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request,
                _("The %(gpu)s allocation now ends on %(date)s.")
                % {"gpu": allocation.gpu_type.name, "date": extended.ends_on.isoformat()},
            )
            return redirect("grants_console:project_detail", pk=project.pk)
    return _page(request, project, extend_forms={allocation.pk: form})


@staff_required
@require_POST
def project_state_view(request: StaffRequest, pk: int) -> HttpResponse:
    project = project_of(request.user, pk)
    form = ProjectStateForm(request.POST)
    target = (
        ProjectState.ACTIVE if project.state == ProjectState.SUSPENDED else ProjectState.SUSPENDED
    )
    if form.is_valid():
        try:
            project_set_state(
                project=project,
                staff=request.user,
                state=target,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as error:
            form.add_service_error(error)
        else:
            done = (
                _("The project is suspended.")
                if target == ProjectState.SUSPENDED
                else _("The project is active again.")
            )
            messages.success(request, done)
            return redirect("grants_console:project_detail", pk=project.pk)
    return _page(request, project, state_form=form)


def _gpu_types(project: Project) -> list[str]:
    return [allocation.gpu_type.name for allocation in allocations_of(project)]


def _page(request: StaffRequest, project: Project, **forms: Any) -> HttpResponse:
    context = project_context(request.user, project)
    gpu_types = [allocation.gpu_type.name for allocation in context["allocations"]]
    extend_forms = forms.get("extend_forms", {})
    context |= {
        "top_up_form": forms.get("top_up_form")
        or MovementForm(gpu_types=gpu_types, prefix="top_up_form"),
        "adjust_form": forms.get("adjust_form")
        or MovementForm(gpu_types=gpu_types, prefix="adjust_form"),
        "state_form": forms.get("state_form") or ProjectStateForm(),
        "extensions": [
            (a, extend_forms.get(a.pk) or ExtendForm(prefix=f"extend-{a.pk}"))
            for a in context["allocations"]
        ],
        "members": project.members.select_related("user").order_by("role", "user__email"),
        "audit_entries": audit_trail_of(project),
    }
    return render(request, "grants/console/project_detail.html", context)
