"""Staff console: the verification queue, reviews with evidence, all organisations, the audit."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts import selectors
from accounts.console.access import StaffRequest, staff_required
from accounts.console.forms import OrganisationFilterForm, VerificationDecisionForm
from accounts.portal.form_errors import form_add_domain_error
from accounts.portal.pagination import page_of
from accounts.services.verification import (
    organisation_reject,
    organisation_verify,
    verification_evidence,
)
from stargate_portal.errors import DomainError


@staff_required
def verification_queue(request: StaffRequest) -> HttpResponse:
    page = page_of(request, selectors.verification_queue())
    reviews = [(organisation, verification_evidence(organisation)) for organisation in page]
    return render(request, "console/verification_queue.html", {"page": page, "reviews": reviews})


@staff_required
def organisation_review(request: StaffRequest, pk: int) -> HttpResponse:
    organisation = selectors.organisation_for_staff(pk)
    form = VerificationDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        decide = organisation_verify if approve else organisation_reject
        try:
            decide(
                organisation=organisation, staff=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            done = _("%(name)s is verified.") if approve else _("%(name)s was rejected.")
            messages.success(request, done % {"name": organisation.name})
            return redirect("console:verification_queue")
    context = {
        "organisation": organisation,
        "evidence": verification_evidence(organisation),
        "decisions": selectors.verification_decisions(organisation)[:25],
        "form": form,
    }
    return render(request, "console/organisation_review.html", context)


@staff_required
def organisation_list(request: StaffRequest) -> HttpResponse:
    filters = OrganisationFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    organisations = selectors.organisations_for_staff_filtered(
        state=chosen.get("state", ""), search=chosen.get("q", "").strip()
    )
    context = {"filters": filters, "page": page_of(request, organisations)}
    return render(request, "console/organisation_list.html", context)


@staff_required
def decision_list(request: StaffRequest) -> HttpResponse:
    page = page_of(request, selectors.verification_decisions())
    return render(request, "console/decision_list.html", {"page": page})
