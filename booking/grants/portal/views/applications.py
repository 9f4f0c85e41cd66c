"""My applications: the multi-step form (each step saves the draft), submit, withdraw."""

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.portal.access import AuthenticatedRequest
from accounts.portal.pagination import page_of
from booking.energy.estimates import gpu_hours_energy_kwh, pue_now, request_energy_kwh
from booking.grants.portal import forms
from booking.grants.portal.steps import (
    BY_SLUG,
    FIELD_LABELS,
    STEPS,
    SUBMIT,
    Step,
    next_slug,
    step_of,
)
from booking.grants.selectors.calls import application_of, applications_of, call_of
from booking.grants.selectors.projects import projects_of
from booking.grants.selectors.reviews import comments_for_applicant
from booking.grants.services.applications import (
    WITHDRAWABLE,
    application_attach,
    application_create,
    application_submit,
    application_update,
    application_withdraw,
)
from booking.models import Application, Call
from stargate_portal.errors import DomainError


@login_required
def application_list(request: AuthenticatedRequest) -> HttpResponse:
    applications = applications_of(request.user).select_related("call").prefetch_related(None)
    page = page_of(request, applications.prefetch_related("requests__gpu_type"))
    return render(request, "grants/application_list.html", {"page": page})


@login_required
def application_create_view(request: AuthenticatedRequest, call_pk: int) -> HttpResponse:
    """Step 1 of a new application: saving it creates the draft."""
    call = call_of(request.user, call_pk)
    if not call.accepts_submissions():
        messages.error(request, _("This call is not open for applications."))
        return redirect("grants:call_detail", pk=call.pk)
    organisations = account_selectors.organisations_of(request.user)
    form = forms.NewApplicationForm(request.POST or None, organisations=organisations)
    if request.method == "POST" and form.is_valid():
        fields = form.cleaned_data
        try:
            application = application_create(user=request.user, call=call, **fields)
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Draft saved. Continue with the resources you need."))
            return redirect(_after_save(request, application, BY_SLUG["basics"]))
    context = {
        "call": call,
        "form": form,
        "step": BY_SLUG["basics"],
        "steps": STEPS,
        "application": None,
        "has_organisations": organisations.exists(),
    }
    return render(request, "grants/application_form.html", context)


@login_required
def application_step(request: AuthenticatedRequest, pk: int, step: str) -> HttpResponse:
    """One step of a draft: show it, or save it (and go on to the next step)."""
    application = application_of(request.user, pk)
    current = BY_SLUG.get(step)
    if current is None:
        raise Http404
    if not application.is_editable:
        messages.error(request, _("Only drafts can be edited."))
        return redirect("grants:application_detail", pk=application.pk)
    form = _step_form(current, application, request)
    if request.method == "POST" and form.is_valid():
        try:
            _save_step(application, request, form)
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Draft saved."))
            return redirect(_after_save(request, application, current))
    context = {
        "call": application.call,
        "form": form,
        "step": current,
        "steps": STEPS,
        "application": application,
    }
    if current.slug == "resources":
        context["energy"] = _energy_of(application.call, _requests_in(form, application))
    return render(request, "grants/application_form.html", context)


def _step_form(step: Step, application: Application, request: AuthenticatedRequest) -> Any:
    kwargs: dict[str, Any] = {"initial": step.form_class.initial_for(application)}
    if step.form_class is forms.ResourcesForm:
        kwargs["call"] = application.call
    data = request.POST if request.method == "POST" else None
    files = request.FILES if request.method == "POST" else None
    return step.form_class(data, files, **kwargs)


def _save_step(
    application: Application, request: AuthenticatedRequest, form: forms.ApplicationStepForm
) -> None:
    upload = form.cleaned_data.get("attachment")
    if upload:
        application_attach(application=application, user=request.user, upload=upload)
    application_update(application=application, user=request.user, **form.update_kwargs())


def _after_save(request: AuthenticatedRequest, application: Application, step: Step) -> str:
    """Stay on the step for "Save draft", go on for "Save and continue"."""
    slug = step.slug if request.POST.get("go") == "stay" else next_slug(step.slug)
    if slug == SUBMIT:
        return reverse("grants:application_submit", args=[application.pk])
    return reverse("grants:application_step", args=[application.pk, slug])


@login_required
def application_submit_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The last step: everything on one page, then submit (missing fields are listed)."""
    application = application_of(request.user, pk)
    if not application.is_editable:
        return redirect("grants:application_detail", pk=application.pk)
    missing: list[dict[str, Any]] = []
    refusal = ""
    if request.method == "POST":
        try:
            application_submit(application=application, user=request.user)
        except DomainError as error:
            missing = _missing(error)
            refusal = error.message
        else:
            messages.success(
                request, _("Submitted. We will let you know when there is a decision.")
            )
            return redirect("grants:application_detail", pk=application.pk)
    context = {
        "application": application,
        "call": application.call,
        "steps": STEPS,
        "step": None,
        "missing": missing,
        "missing_fields": {item["field"] for item in missing},
        "refusal": refusal,
        **_details(application),
    }
    return render(request, "grants/application_submit.html", context)


def _missing(error: DomainError) -> list[dict[str, Any]]:
    missing = []
    for field, messages_ in error.details.items():
        step = step_of(field)
        if step is None or field not in FIELD_LABELS:
            continue
        missing.append(
            {
                "field": field,
                "label": FIELD_LABELS[field],
                "step": step,
                "message": messages_[0] if isinstance(messages_, list) else error.message,
            }
        )
    return sorted(
        missing, key=lambda m: (STEPS.index(m["step"]), m["step"].fields.index(m["field"]))
    )


@login_required
def application_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    application = application_of(request.user, pk)
    context = {
        "application": application,
        "can_withdraw": application.state in WITHDRAWABLE,
        "decision": application.decisions.first() if application.decided_at else None,
        "project": projects_of(request.user).filter(application=application).first(),
        "comments": comments_for_applicant(application),
        **_details(application),
    }
    return render(request, "grants/application_detail.html", context)


def _details(application: Application) -> dict[str, Any]:
    requests = list(application.requests.all())
    return {
        "requests": [
            (r, gpu_hours_energy_kwh(gpu_type=r.gpu_type, gpu_hours=r.gpu_hours)) for r in requests
        ],
        "energy_kwh": request_energy_kwh((r.gpu_type, r.gpu_hours) for r in requests),
        "team": [member.email for member in application.team.all()],
        "attachment_name": (application.attachment.name or "").rsplit("/", 1)[-1],
    }


@login_required
@require_POST
def application_withdraw_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    application = application_of(request.user, pk)
    try:
        application_withdraw(application=application, user=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The application was withdrawn."))
    return redirect("grants:application_detail", pk=application.pk)


@login_required
def application_attachment(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return attachment_response(application_of(request.user, pk))


def attachment_response(application: Application) -> HttpResponse:
    """The application's PDF (a few MB at most), shown in the browser; 404 when there is none."""
    if not application.attachment:
        raise Http404
    name = (application.attachment.name or "").rsplit("/", 1)[-1]
    try:
        with application.attachment.open("rb") as pdf:
            content = pdf.read()
    except OSError as missing:  # the row names a file the storage no longer has
        raise Http404 from missing
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def call_energy(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The live energy estimate of the resources step (htmx): GPU-hours x power x PUE."""
    call = call_of(request.user, pk)
    # Partial input is fine: the estimate counts whatever is already a number.
    context = {"energy": _energy_of(call, forms.requested_hours_in(request.GET))}
    return render(request, "grants/includes/energy.html", context)


def _requests_in(form: forms.ResourcesForm, application: Application) -> dict[str, Decimal]:
    if form.is_bound:
        return forms.requested_hours_in(form.data)
    return {r.gpu_type.name: r.gpu_hours for r in application.requests.all()}


def _energy_of(call: Call, requests: dict[str, Decimal]) -> dict[str, Any]:
    types = {pool.gpu_type.name: pool.gpu_type for pool in call.pools.all()}
    rows = [
        (types[name], hours, gpu_hours_energy_kwh(gpu_type=types[name], gpu_hours=hours))
        for name, hours in sorted(requests.items())
        if name in types and hours > 0
    ]
    return {
        "rows": rows,
        "total_kwh": request_energy_kwh((gpu_type, hours) for gpu_type, hours, _kwh in rows),
        "total_gpu_hours": sum((hours for _t, hours, _kwh in rows), Decimal(0)),
        "pue": pue_now(),
    }
