"""Portal pages: thin views over selectors (reads) and services (writes)."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import selectors
from accounts.models import JoinRequestState, MembershipRole, VerificationState
from accounts.portal import forms
from accounts.portal.access import (
    AuthenticatedRequest,
    managed_organisation,
    organisation_with_role,
)
from accounts.portal.form_errors import form_add_domain_error
from accounts.portal.pagination import PAGE_SIZE, page_of
from accounts.services.memberships import (
    join_request_create,
    join_request_decide,
    membership_remove,
    membership_set_role,
)
from accounts.services.organisations import organisation_create, organisation_update
from accounts.services.tokens import api_token_create, api_token_revoke
from accounts.services.users import user_set_time_zone
from stargate_portal.errors import DomainError


@login_required
def dashboard(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    memberships = list(selectors.memberships_of(user)[: PAGE_SIZE + 1])
    organisations = [m.organisation for m in memberships]
    context = {
        "memberships": memberships[:PAGE_SIZE],
        "more_memberships": len(memberships) > PAGE_SIZE,
        "my_tier": selectors.user_tier(user),
        "awaiting_verification": [
            o for o in organisations if o.verification_state == VerificationState.PENDING
        ],
        "rejected": [
            o for o in organisations if o.verification_state == VerificationState.REJECTED
        ],
        "my_join_requests": selectors.join_requests_by(user).filter(state=JoinRequestState.PENDING)[
            :PAGE_SIZE
        ],
        "requests_to_decide": selectors.pending_join_requests_to_manage(user)[:PAGE_SIZE],
        "has_tokens": selectors.api_tokens_of(user).exists(),
    }
    return render(request, "portal/dashboard.html", context)


@login_required
def organisation_list(request: AuthenticatedRequest) -> HttpResponse:
    page = page_of(request, selectors.memberships_of(request.user))
    return render(request, "portal/organisation_list.html", {"page": page})


@login_required
def organisation_create_view(request: AuthenticatedRequest) -> HttpResponse:
    form = forms.OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organisation = organisation_create(user=request.user, **form.cleaned_data)
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            messages.success(
                request,
                _("%(name)s was created. Staff will now verify it.") % {"name": organisation.name},
            )
            return redirect("portal:organisation_detail", pk=organisation.pk)
    return render(request, "portal/organisation_form.html", {"form": form, "organisation": None})


@login_required
def organisation_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    organisation, membership = organisation_with_role(request, pk)
    members = selectors.members_of(request.user, organisation.pk)
    context = {
        "organisation": organisation,
        "membership": membership,
        "members": members[:PAGE_SIZE],
        "member_count": members.count(),
        "tier": organisation.priority_tier(),
    }
    return render(request, "portal/organisation_detail.html", context)


@login_required
def organisation_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    organisation = managed_organisation(request, pk)
    initial = forms.OrganisationForm.initial_for(organisation)
    form = forms.OrganisationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        was_pending = organisation.verification_state == VerificationState.PENDING
        try:
            updated = organisation_update(
                organisation=organisation, actor=request.user, **form.cleaned_data
            )
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            if not was_pending and updated.verification_state == VerificationState.PENDING:
                messages.warning(request, _("Saved. The changes send it back to verification."))
            else:
                messages.success(request, _("Saved."))
            return redirect("portal:organisation_detail", pk=organisation.pk)
    context = {"form": form, "organisation": organisation}
    return render(request, "portal/organisation_form.html", context)


@login_required
def member_list(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    organisation, membership = organisation_with_role(request, pk)
    page = page_of(request, selectors.members_of(request.user, organisation.pk))
    context = {
        "organisation": organisation,
        "membership": membership,
        "page": page,
        "role_choices": MembershipRole.choices,
    }
    return render(request, "portal/member_list.html", context)


@login_required
@require_POST
def member_role(request: AuthenticatedRequest, pk: int, membership_pk: int) -> HttpResponse:
    membership = selectors.membership_of(request.user, pk, membership_pk)
    form = forms.MembershipRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the roles offered."))
        return redirect("portal:member_list", pk=pk)
    role = MembershipRole(form.cleaned_data["role"])
    try:
        membership_set_role(membership=membership, actor=request.user, role=role)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("%(email)s is now %(role)s.") % {"email": membership.user.email, "role": role.label},
        )
    return redirect("portal:member_list", pk=pk)


@login_required
@require_POST
def member_remove(request: AuthenticatedRequest, pk: int, membership_pk: int) -> HttpResponse:
    membership = selectors.membership_of(request.user, pk, membership_pk)
    leaving = membership.user_id == request.user.pk
    try:
        membership_remove(membership=membership, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("portal:member_list", pk=pk)
    if leaving:
        messages.success(request, _("You left %(name)s.") % {"name": membership.organisation.name})
        return redirect("portal:organisation_list")
    messages.success(request, _("%(email)s was removed.") % {"email": membership.user.email})
    return redirect("portal:member_list", pk=pk)


@login_required
def join_request_list(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    organisation = managed_organisation(request, pk)
    requests = selectors.join_requests_for(request.user, organisation.pk)
    context = {
        "organisation": organisation,
        "pending": requests.filter(state=JoinRequestState.PENDING)[:PAGE_SIZE],
        "page": page_of(request, requests.exclude(state=JoinRequestState.PENDING)),
    }
    return render(request, "portal/join_request_list.html", context)


@login_required
@require_POST
def join_request_decide_view(
    request: AuthenticatedRequest, pk: int, request_pk: int
) -> HttpResponse:
    join_request = selectors.join_request_for_decision(request.user, request_pk)
    if join_request.organisation_id != pk:
        raise Http404
    form = forms.JoinRequestDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to approve or deny the request."))
        return redirect("portal:join_request_list", pk=pk)
    approve = form.cleaned_data["decision"] == "approve"
    try:
        join_request_decide(join_request=join_request, actor=request.user, approve=approve)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        done = _("%(email)s is now a member.") if approve else _("Denied %(email)s's request.")
        messages.success(request, done % {"email": join_request.user.email})
    return redirect("portal:join_request_list", pk=pk)


@login_required
def directory(request: AuthenticatedRequest) -> HttpResponse:
    search = forms.DirectorySearchForm(request.GET or None)
    query = search.cleaned_data["q"].strip() if search.is_valid() else ""
    page = page_of(request, selectors.organisation_directory(query))
    ids_on_page = [o.pk for o in page]
    context = {
        "search": search,
        "query": query,
        "page": page,
        "member_of": set(
            selectors.memberships_of(request.user)
            .filter(organisation_id__in=ids_on_page)
            .values_list("organisation_id", flat=True)
        ),
        "requested": set(
            selectors.join_requests_by(request.user)
            .filter(state=JoinRequestState.PENDING, organisation_id__in=ids_on_page)
            .values_list("organisation_id", flat=True)
        ),
    }
    template = "portal/includes/directory_results.html" if request.htmx else "portal/directory.html"
    return render(request, template, context)


@login_required
def join_request_create_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    organisation = selectors.directory_organisation(pk)
    form = forms.JoinRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            join_request_create(
                user=request.user, organisation=organisation, message=form.cleaned_data["message"]
            )
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            messages.success(
                request,
                _("Your request to join %(name)s was sent to its admins.")
                % {"name": organisation.name},
            )
            return redirect("portal:dashboard")
    context = {"organisation": organisation, "form": form}
    return render(request, "portal/join_request_form.html", context)


@login_required
@never_cache
def token_list(request: AuthenticatedRequest) -> HttpResponse:
    form = forms.ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, clear_text = api_token_create(user=request.user, **form.cleaned_data)
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            # Shown in this response only: the clear text is stored nowhere, not even the session.
            context = {"token": token, "clear_text": clear_text}
            return render(request, "portal/token_created.html", context)
    page = page_of(request, selectors.api_tokens_of(request.user))
    return render(request, "portal/token_list.html", {"form": form, "page": page})


@login_required
@require_POST
def token_revoke(request: AuthenticatedRequest, public_id: uuid.UUID) -> HttpResponse:
    token = get_object_or_404(selectors.api_tokens_of(request.user), public_id=public_id)
    try:
        api_token_revoke(user=request.user, public_id=public_id)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The token “%(name)s” was revoked.") % {"name": token.name})
    return redirect("portal:token_list")


@login_required
def preferences(request: AuthenticatedRequest) -> HttpResponse:
    """The person's own preferences: the time zone dates are shown in."""
    initial = {"time_zone": request.user.time_zone}
    form = forms.PreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            user_set_time_zone(user=request.user, time_zone=form.cleaned_data["time_zone"])
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            messages.success(request, _("Your preferences are saved."))
            return redirect("portal:preferences")
    return render(request, "portal/preferences.html", {"form": form})
