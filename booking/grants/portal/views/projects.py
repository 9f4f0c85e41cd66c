"""My projects: balances per GPU type, usage chart, ledger, members; invitations to me."""

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.portal.access import AuthenticatedRequest
from accounts.portal.pagination import page_of
from booking.charts.usage import usage_chart
from booking.grants.portal.forms import InviteForm, LedgerFilterForm, ProjectRoleForm
from booking.grants.selectors.projects import allocations_of, project_of, project_role, projects_of
from booking.grants.services.projects import (
    invitation_accept,
    project_invite,
    project_member_remove,
    project_member_set_role,
)
from booking.ledger.selectors import balances_by_project, balances_of, charged_per_day
from booking.models import Project, ProjectInvitation, ProjectMember, ProjectRole
from booking.permissions import can_manage_project
from stargate_portal.errors import DomainError

CHART_DAYS = 90
LEDGER_COUNT_MAX = 1_000
"""The ledger page counts this many entries at most (three per finished job, for ever)."""


@login_required
def project_list(request: AuthenticatedRequest) -> HttpResponse:
    page = page_of(request, projects_of(request.user))
    balances = balances_by_project([project.pk for project in page])
    context = {
        "page": page,
        "rows": [(project, sorted(balances[project.pk].items())) for project in page],
        "invitation_count": invitations_to(request.user.email).count(),
    }
    return render(request, "grants/project_list.html", context)


@login_required
def project_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    project = project_of(request.user, pk)
    return render(request, "grants/project_detail.html", project_context(request.user, project))


def project_context(user: User, project: Project) -> dict[str, Any]:
    """What the project page shows, in the portal and the console."""
    allocations = list(allocations_of(project))
    today = timezone.localdate()
    start = min((a.starts_on for a in allocations), default=today)
    start = max(start, today - timedelta(days=CHART_DAYS))
    role = project_role(user, project)
    return {
        "project": project,
        "role": ProjectRole(role).label if role else None,
        "balances": sorted(balances_of(project=project).items()),
        "allocations": allocations,
        "chart": usage_chart(charged_per_day(project, since=start), start=start, end=today),
        "chart_start": start,
        "recent_entries": project.ledger_entries.select_related("gpu_type", "actor").order_by(
            "-created_at", "-pk"
        )[:10],
    }


@login_required
def project_ledger(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    project = project_of(request.user, pk)
    names = [a.gpu_type.name for a in allocations_of(project)]
    filters = LedgerFilterForm(request.GET or None, gpu_types=names)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    entries = project.ledger_entries.select_related("gpu_type", "actor").order_by(
        "-created_at", "-pk"
    )
    query = {}
    if kind := chosen.get("kind"):
        entries, query["kind"] = entries.filter(kind=kind), kind
    if gpu_type := chosen.get("gpu_type"):
        entries, query["gpu_type"] = entries.filter(gpu_type__name=gpu_type), gpu_type
    export = reverse("project-ledger-export", args=[project.pk])
    context = {
        "project": project,
        "filters": filters,
        "page": page_of(request, entries, count_max=LEDGER_COUNT_MAX),
        "export_url": f"{export}?{urlencode(query)}" if query else export,
    }
    return render(request, "grants/project_ledger.html", context)


@login_required
def project_members(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    project = project_of(request.user, pk)
    can_manage = can_manage_project(request.user, project)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = project_invite(project=project, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request, _("%(email)s is invited by e-mail.") % {"email": invitation.email}
            )
            return redirect("grants:project_members", pk=project.pk)
    members = project.members.select_related("user").order_by("user__email")
    context = {
        "project": project,
        "can_manage": can_manage,
        "page": page_of(request, members),
        "form": form,
        "role_choices": ProjectRole.choices,
        "invitations": project.invitations.filter(accepted_at__isnull=True)[:50]
        if can_manage
        else [],
    }
    return render(request, "grants/project_members.html", context)


def _member(request: AuthenticatedRequest, pk: int, member_pk: int) -> ProjectMember:
    project = project_of(request.user, pk)
    return get_object_or_404(project.members.select_related("user", "project"), pk=member_pk)


@login_required
@require_POST
def member_role(request: AuthenticatedRequest, pk: int, member_pk: int) -> HttpResponse:
    member = _member(request, pk, member_pk)
    form = ProjectRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the roles offered."))
        return redirect("grants:project_members", pk=pk)
    role = ProjectRole(form.cleaned_data["role"])
    try:
        project_member_set_role(member=member, actor=request.user, role=role)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("%(email)s is now %(role)s.") % {"email": member.user.email, "role": role.label},
        )
    return redirect("grants:project_members", pk=pk)


@login_required
@require_POST
def member_remove(request: AuthenticatedRequest, pk: int, member_pk: int) -> HttpResponse:
    member = _member(request, pk, member_pk)
    leaving = member.user_id == request.user.pk
    try:
        project_member_remove(member=member, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("grants:project_members", pk=pk)
    if leaving:
        messages.success(request, _("You left %(name)s.") % {"name": member.project.name})
        return redirect("grants:project_list")
    messages.success(request, _("%(email)s was removed.") % {"email": member.user.email})
    return redirect("grants:project_members", pk=pk)


def invitations_to(email: str) -> QuerySet[ProjectInvitation]:
    """Open invitations addressed to this e-mail (whatever its case)."""
    return (
        ProjectInvitation.objects.filter(email__iexact=email, accepted_at__isnull=True)
        .select_related("project", "project__organisation", "invited_by")
        .order_by("-created_at", "-pk")
    )


@login_required
def invitation_list(request: AuthenticatedRequest) -> HttpResponse:
    page = page_of(request, invitations_to(request.user.email))
    return render(request, "grants/invitation_list.html", {"page": page})


@login_required
def invitation_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(invitations_to(request.user.email), pk=pk)
    return render(request, "grants/invitation_detail.html", {"invitation": invitation})


@login_required
@require_POST
def invitation_accept_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(invitations_to(request.user.email), pk=pk)
    try:
        member = invitation_accept(invitation=invitation, user=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("grants:invitation_list")
    messages.success(
        request,
        _("You joined %(name)s as %(role)s.")
        % {"name": invitation.project.name, "role": member.get_role_display()},
    )
    return redirect("grants:project_detail", pk=invitation.project_id)
