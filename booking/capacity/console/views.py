"""Staff: the timeline of every booking per GPU type, the booking rules per GPU type (audited),
a booking with cancel and refund overrides (a reason each, audited)."""

from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.console.access import StaffRequest, staff_required
from accounts.portal.pagination import page_of
from booking.capacity.availability import booked_nodes_by_hour
from booking.capacity.clock import booking_now
from booking.capacity.console.forms import PolicyForm, ReasonForm, StaffCancelForm
from booking.capacity.policies import policies_by_type, policy_for
from booking.capacity.rules import full_refund_due, refund_deadline
from booking.capacity.selectors import (
    booking_ledger_entries,
    booking_of,
    bookings_overlapping,
    capacity_audit_trail,
)
from booking.capacity.services.bookings import booking_cancel, booking_refund
from booking.capacity.services.policies import capacity_policy_update
from booking.charts.timeline import timeline
from booking.models import LIVE_BOOKING_STATES, CapacityBooking, GpuType
from stargate_portal.errors import DomainError
from stargate_portal.input_limits import date_or_none

TIMELINE_DAYS = 14
TIMELINE_MAX_BARS = 300


@staff_required
def timeline_view(request: StaffRequest) -> HttpResponse:
    gpu_types = list(GpuType.objects.order_by("name"))
    chosen = request.GET.get("gpu_type")
    gpu_type = next((t for t in gpu_types if t.name == chosen), gpu_types[0] if gpu_types else None)
    if gpu_type is None:
        return render(request, "capacity/console/timeline.html", {"gpu_type": None})
    today = booking_now().date()
    first = date_or_none(request.GET.get("from")) or today
    starts_at = datetime.combine(first, time(), tzinfo=booking_now().tzinfo)
    ends_at = starts_at + timedelta(days=TIMELINE_DAYS)
    policy = policy_for(gpu_type)
    bookings = list(bookings_overlapping(gpu_type, starts_at, ends_at)[: TIMELINE_MAX_BARS + 1])
    chart = timeline(
        bookings[:TIMELINE_MAX_BARS],
        starts_at=starts_at,
        ends_at=ends_at,
        booked_per_hour=booked_nodes_by_hour(gpu_type, starts_at, ends_at),
        pool_nodes=policy.pool_nodes,
        label=lambda b: f"{b.project.name} · {b.node_count}",
        link=lambda b: reverse("capacity_console:booking_detail", args=[b.pk]),
    )
    context = {
        "gpu_type": gpu_type,
        "gpu_types": gpu_types,
        "policy": policy,
        "chart": chart,
        "bookings": bookings[:TIMELINE_MAX_BARS],
        "more": len(bookings) > TIMELINE_MAX_BARS,
        "first": first,
        "previous": first - timedelta(days=TIMELINE_DAYS),
        "next": first + timedelta(days=TIMELINE_DAYS),
    }
    return render(request, "capacity/console/timeline.html", context)


@staff_required
def policy_list(request: StaffRequest) -> HttpResponse:
    context = {
        "policies": list(policies_by_type().values()),
        "page": page_of(request, capacity_audit_trail()),
    }
    return render(request, "capacity/console/policy_list.html", context)


@staff_required
def policy_edit(request: StaffRequest, gpu_type: str) -> HttpResponse:
    target = get_object_or_404(GpuType, name=gpu_type)
    policy = policy_for(target)
    form = PolicyForm(request.POST or None, initial=PolicyForm.initial_for(policy))
    if request.method == "POST" and form.is_valid():
        try:
            capacity_policy_update(
                gpu_type=target,
                staff=request.user,
                reason=form.cleaned_data["reason"],
                changes=form.changes(),
            )
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request, _("The %(gpu)s booking rules are saved.") % {"gpu": target.name}
            )
            return redirect("capacity_console:policy_list")
    context = {
        "gpu_type": target,
        "policy": policy,
        "form": form,
        "audit": capacity_audit_trail(target)[:20],
    }
    return render(request, "capacity/console/policy_form.html", context)


@staff_required
def booking_detail(request: StaffRequest, pk: int) -> HttpResponse:
    return _page(request, booking_of(request.user, pk))


def _page(request: StaffRequest, booking: CapacityBooking, **forms: Any) -> HttpResponse:
    now = booking_now()
    context = {
        "booking": booking,
        "ledger_entries": booking_ledger_entries(booking),
        "audit": booking.audit_entries.select_related("actor"),
        "refund_deadline": refund_deadline(booking.starts_at),
        "full_refund_now": booking.charged_at is None
        and full_refund_due(starts_at=booking.starts_at, now=now),
        "can_cancel": booking.state in LIVE_BOOKING_STATES and now < booking.ends_at,
        "can_refund": booking.charged_at is not None and booking.refunded_at is None,
        "cancel_form": forms.get("cancel_form") or StaffCancelForm(prefix="cancel"),
        "refund_form": forms.get("refund_form") or ReasonForm(prefix="refund"),
    }
    return render(request, "capacity/console/booking_detail.html", context)


@staff_required
@require_POST
def booking_cancel_view(request: StaffRequest, pk: int) -> HttpResponse:
    booking = booking_of(request.user, pk)
    form = StaffCancelForm(request.POST, prefix="cancel")
    if form.is_valid():
        try:
            booking_cancel(
                booking=booking,
                user=request.user,
                reason=form.cleaned_data["reason"],
                refund=form.cleaned_data["refund"],
            )
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("The booking is cancelled."))
            return redirect("capacity_console:booking_detail", pk=booking.pk)
    return _page(request, booking, cancel_form=form)


@staff_required
@require_POST
def booking_refund_view(request: StaffRequest, pk: int) -> HttpResponse:
    booking = booking_of(request.user, pk)
    form = ReasonForm(request.POST, prefix="refund")
    if form.is_valid():
        try:
            booking_refund(booking=booking, staff=request.user, reason=form.cleaned_data["reason"])
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("The booking's GPU-hours are refunded."))
            return redirect("capacity_console:booking_detail", pk=booking.pk)
    return _page(request, booking, refund_form=form)
