"""Staff: calls (create, edit, open, close) and the ranked applications of a call."""

from django.contrib import messages
from django.db.models import Count, Q
from django.db.models.query import prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.console.access import StaffRequest, staff_required
from accounts.portal.pagination import page_of
from accounts.tiers import PriorityTier
from booking.grants.console.forms import CallForm
from booking.grants.selectors.calls import call_of, calls_visible_to
from booking.grants.selectors.reviews import RANKED_STATES, ranked_applications
from booking.grants.services.calls import call_close, call_create, call_open, call_update
from booking.models import ApplicationState, Call
from stargate_portal.errors import DomainError

DECIDED_STATES = (ApplicationState.AWARDED, ApplicationState.REJECTED)
DECIDED_SHOWN = 25


@staff_required
def call_list(request: StaffRequest) -> HttpResponse:
    calls = calls_visible_to(request.user).annotate(
        waiting=Count("applications", filter=Q(applications__state__in=RANKED_STATES)),
        decided=Count("applications", filter=Q(applications__state__in=DECIDED_STATES)),
    )
    return render(request, "grants/console/call_list.html", {"page": page_of(request, calls)})


@staff_required
def call_create_view(request: StaffRequest) -> HttpResponse:
    form = CallForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            call = call_create(staff=request.user, **form.service_kwargs())
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("The call was created as a draft. Open it when ready."))
            return redirect("grants_console:call_detail", pk=call.pk)
    return render(request, "grants/console/call_form.html", {"form": form, "call": None})


@staff_required
def call_edit(request: StaffRequest, pk: int) -> HttpResponse:
    call = call_of(request.user, pk)
    form = CallForm(request.POST or None, call=call, initial=CallForm.initial_for(call))
    if request.method == "POST" and form.is_valid():
        try:
            call_update(call=call, staff=request.user, **form.service_kwargs())
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Saved."))
            return redirect("grants_console:call_detail", pk=call.pk)
    return render(request, "grants/console/call_form.html", {"form": form, "call": call})


@staff_required
def call_detail(request: StaffRequest, pk: int) -> HttpResponse:
    """The call and its applications ranked: tier first (priority access), then score."""
    call = call_of(request.user, pk)
    ranked = ranked_applications(call=call)
    page = page_of(request, ranked)
    prefetch_related_objects([r.application for r in page], "requests__gpu_type", "applicant")
    decided = call.applications.filter(state__in=DECIDED_STATES).select_related("organisation")
    context = {
        "call": call,
        "page": page,
        "decided": decided.order_by("-decided_at", "-pk")[:DECIDED_SHOWN],
        "decided_count": decided.count(),
        "tiers": [PriorityTier(t) for t in call.allowed_tiers],
    }
    return render(request, "grants/console/call_detail.html", context)


@staff_required
@require_POST
def call_open_view(request: StaffRequest, pk: int) -> HttpResponse:
    return _set_state(request, call_of(request.user, pk), opening=True)


@staff_required
@require_POST
def call_close_view(request: StaffRequest, pk: int) -> HttpResponse:
    return _set_state(request, call_of(request.user, pk), opening=False)


def _set_state(request: StaffRequest, call: Call, *, opening: bool) -> HttpResponse:
    try:
        if opening:
            call_open(call=call, staff=request.user)
        else:
            call_close(call=call, staff=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        done = _("“%(t)s” is open.") if opening else _("“%(t)s” is closed.")
        messages.success(request, done % {"t": call.title})
    return redirect("grants_console:call_detail", pk=call.pk)
