"""The reviewer inbox: active assignments only; score each criterion, or declare a conflict."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.portal.access import AuthenticatedRequest
from accounts.portal.pagination import page_of
from booking.energy.estimates import request_energy_kwh
from booking.grants.portal.forms import ConflictForm, ScoreForm
from booking.grants.portal.views.applications import attachment_response
from booking.grants.selectors.reviews import assignment_of, assignments_of
from booking.grants.services.reviews import review_declare_conflict, review_score
from booking.models import ApplicationState, ReviewAssignment
from booking.permissions import is_reviewer
from stargate_portal.errors import DomainError


def _reviewer_only(request: AuthenticatedRequest) -> None:
    if not is_reviewer(request.user):
        raise PermissionDenied


@login_required
def review_inbox(request: AuthenticatedRequest) -> HttpResponse:
    _reviewer_only(request)
    assignments = assignments_of(request.user).prefetch_related("scores")
    return render(request, "grants/review_inbox.html", {"page": page_of(request, assignments)})


@login_required
def review_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _reviewer_only(request)
    assignment = _assignment(request, pk)
    form = _score_form(assignment, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            review_score(assignment=assignment, reviewer=request.user, scores=form.score_inputs())
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request, _("Your scores were saved. You can change them until the decision.")
            )
            return redirect("grants:review_detail", pk=assignment.pk)
    return _review_page(request, assignment, form, ConflictForm())


@login_required
@require_POST
def review_conflict(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _reviewer_only(request)
    assignment = _assignment(request, pk)
    form = ConflictForm(request.POST)
    if form.is_valid():
        try:
            review_declare_conflict(
                assignment=assignment, reviewer=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request,
                _("You declared a conflict of interest and are no longer a reviewer of “%(t)s”.")
                % {"t": assignment.application.title},
            )
            return redirect("grants:review_inbox")
    return _review_page(request, assignment, _score_form(assignment, None), form)


@login_required
def review_attachment(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _reviewer_only(request)
    return attachment_response(_assignment(request, pk).application)


def _assignment(request: AuthenticatedRequest, pk: int) -> ReviewAssignment:
    return assignment_of(request.user, pk)


def _score_form(assignment: ReviewAssignment, data: Any) -> ScoreForm:
    return ScoreForm(
        data,
        criteria=list(assignment.application.call.criteria.all()),
        scores=list(assignment.scores.all()),
    )


def _review_page(
    request: AuthenticatedRequest,
    assignment: ReviewAssignment,
    score_form: ScoreForm,
    conflict_form: ConflictForm,
) -> HttpResponse:
    application = assignment.application
    requests = list(application.requests.select_related("gpu_type"))
    context = {
        "assignment": assignment,
        "application": application,
        "requests": requests,
        "energy_kwh": request_energy_kwh((r.gpu_type, r.gpu_hours) for r in requests),
        "team": [member.email for member in application.team.all()],
        "open_for_scores": application.state == ApplicationState.UNDER_REVIEW,
        "form": score_form,
        "conflict_form": conflict_form,
    }
    return render(request, "grants/review_detail.html", context)
