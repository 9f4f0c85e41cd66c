"""Calls for GPU time: open ones first, then the history; a call's pools, criteria and rules."""

from django.contrib.auth.decorators import login_required
from django.db.models import Case, F, IntegerField, Value, When
from django.http import HttpResponse
from django.shortcuts import render

from accounts.portal.access import AuthenticatedRequest
from accounts.portal.pagination import page_of
from accounts.tiers import PriorityTier
from booking.grants.selectors.calls import call_of, calls_visible_to, open_calls


@login_required
def call_list(request: AuthenticatedRequest) -> HttpResponse:
    open_ids = open_calls().values("pk")
    calls = calls_visible_to(request.user).annotate(
        closed=Case(
            When(pk__in=open_ids, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    )
    # Open calls first, the nearest deadline first; then the others, newest first.
    ordered = calls.order_by("closed", F("closes_at").asc(nulls_last=True), "-opens_at", "pk")
    page = page_of(request, ordered)
    return render(request, "grants/call_list.html", {"page": page})


@login_required
def call_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    call = call_of(request.user, pk)
    context = {
        "call": call,
        "accepting": call.accepts_submissions(),
        "tiers": [PriorityTier(t) for t in call.allowed_tiers],
        "my_applications": call.applications.filter(applicant=request.user)[:10],
    }
    return render(request, "grants/call_detail.html", context)
