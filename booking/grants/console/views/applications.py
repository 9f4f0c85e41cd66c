"""Staff: one application's review page: reviewers and scores, assignment, the decision."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.console.access import StaffRequest, staff_required
from accounts.models import Membership, User
from booking.energy.estimates import request_energy_kwh
from booking.grants.console.forms import AssignReviewerForm, AwardForm, RejectForm
from booking.grants.portal.views.applications import attachment_response
from booking.grants.selectors.calls import applications_for_staff
from booking.grants.selectors.reviews import application_scores
from booking.grants.services.decisions import DECIDABLE, application_award, application_reject
from booking.grants.services.reviews import REVIEWABLE, reviewer_assign
from booking.models import REVIEWERS_GROUP, Application, CallPool
from stargate_portal.errors import DomainError

# Refusals because the application moved on (decided, withdrawn): its forms are gone from the
# page, so the refusal is shown as a message instead of next to a field.
STATE_REFUSALS = ("already_decided", "not_reviewable")


def _application(pk: int) -> Application:
    return get_object_or_404(applications_for_staff(), pk=pk)


@staff_required
def application_review(request: StaffRequest, pk: int) -> HttpResponse:
    return _page(request, _application(pk))


@staff_required
@require_POST
def application_assign(request: StaffRequest, pk: int) -> HttpResponse:
    application = _application(pk)
    form = AssignReviewerForm(request.POST, candidates=_candidates(application))
    if form.is_valid():
        reviewer = get_object_or_404(User, pk=form.cleaned_data["reviewer"])
        try:
            reviewer_assign(application=application, reviewer=reviewer, staff=request.user)
        except DomainError as error:
            if error.code in STATE_REFUSALS:
                return _refused(request, application, error)
            form.add_service_error(error)
        else:
            messages.success(
                request, _("%(email)s is assigned and notified.") % {"email": reviewer.email}
            )
            return redirect("grants_console:application_review", pk=application.pk)
    return _page(request, application, assign_form=form)


@staff_required
@require_POST
def application_award_view(request: StaffRequest, pk: int) -> HttpResponse:
    application = _application(pk)
    form = AwardForm(request.POST, application=application, pools=_pools(application))
    if form.is_valid():
        try:
            award = application_award(
                application=application,
                staff=request.user,
                gpu_hours=form.gpu_hours(),
                reason=form.cleaned_data["reason"],
                starts_on=form.cleaned_data["starts_on"],
                ends_on=form.cleaned_data["ends_on"],
            )
        except DomainError as error:
            if error.code in STATE_REFUSALS:
                return _refused(request, application, error)
            form.add_service_error(error)
        else:
            messages.success(
                request,
                _("Awarded. The project “%(name)s” was created and the applicant notified.")
                % {"name": award.project.name},
            )
            return redirect("grants_console:project_detail", pk=award.project.pk)
    return _page(request, application, award_form=form)


@staff_required
@require_POST
def application_reject_view(request: StaffRequest, pk: int) -> HttpResponse:
    application = _application(pk)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            application_reject(
                application=application, staff=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as error:
            if error.code in STATE_REFUSALS:
                return _refused(request, application, error)
            form.add_service_error(error)
        else:
            messages.success(request, _("Rejected. The applicant was notified with the reason."))
            return redirect("grants_console:call_detail", pk=application.call_id)
    return _page(request, application, reject_form=form)


def _refused(request: StaffRequest, application: Application, error: DomainError) -> HttpResponse:
    messages.error(request, error.message)
    return redirect("grants_console:application_review", pk=application.pk)


@staff_required
def application_attachment(request: StaffRequest, pk: int) -> HttpResponse:
    return attachment_response(_application(pk))


def _candidates(application: Application) -> list[tuple[int, str, bool]]:
    """Every reviewer: (pk, e-mail, is a member of the applicant's organisation)."""
    same_organisation = Membership.objects.filter(
        user=OuterRef("pk"), organisation_id=application.organisation_id
    )
    reviewers = (
        User.objects.filter(groups__in=Group.objects.filter(name=REVIEWERS_GROUP))
        .exclude(review_assignments__application=application)
        .annotate(conflict=Exists(same_organisation))
        .order_by("email")
        .values_list("pk", "email", "conflict")
    )
    return [
        (pk, email, conflict or pk == application.applicant_id) for pk, email, conflict in reviewers
    ]


def _pools(application: Application) -> list[CallPool]:
    return list(application.call.pools.select_related("gpu_type"))


def _page(request: StaffRequest, application: Application, **forms: Any) -> Any:
    candidates = _candidates(application)
    requests = list(application.requests.all())
    assignments = list(application.assignments.all())
    weighted, per_assignment = application_scores(application)
    context = {
        "application": application,
        "organisation": application.organisation,
        "tier": application.organisation.priority_tier(),
        "weighted_score": weighted,
        "requests": requests,
        "energy_kwh": request_energy_kwh((r.gpu_type, r.gpu_hours) for r in requests),
        "team": [member.email for member in application.team.all()],
        "assignments": [(a, per_assignment.get(a.pk)) for a in assignments],
        "criteria": list(application.call.criteria.all()),
        "conflicted": [email for _pk, email, conflict in candidates if conflict],
        "pools": _pools(application),
        "reviewable": application.state in REVIEWABLE,
        "decidable": application.state in DECIDABLE,
        "decisions": application.decisions.select_related("decided_by"),
        "assign_form": forms.get("assign_form") or AssignReviewerForm(candidates=candidates),
        "award_form": forms.get("award_form")
        or AwardForm(application=application, pools=_pools(application)),
        "reject_form": forms.get("reject_form") or RejectForm(),
    }
    return render(request, "grants/console/application_review.html", context)
