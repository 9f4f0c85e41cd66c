"""Bookings in the portal: the availability heat map, the booking form with its live price and
refund deadline, my bookings, a booking's page, cancelling, calendar addresses.

Every page is shown in the person's own time zone (``User.time_zone``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.portal.access import AuthenticatedRequest
from accounts.portal.pagination import page_of
from booking.capacity.availability import HourFree, availability
from booking.capacity.clock import booking_now
from booking.capacity.policies import policy_for
from booking.capacity.portal.forms import BookingFilterForm, BookingForm, CancelForm
from booking.capacity.rules import (
    BookingHorizon,
    earliest_start,
    full_refund_due,
    hour_floor,
    refund_deadline,
)
from booking.capacity.selectors import (
    bookable_projects,
    booking_jobs,
    booking_ledger_entries,
    booking_of,
    feeds_of,
    member_bookings,
)
from booking.capacity.services.bookings import (
    booking_cancel,
    booking_create,
    booking_gpu_hours,
    project_booking_horizon,
)
from booking.capacity.services.feeds import calendar_feed_create, calendar_feed_revoke
from booking.charts.heat_map import heat_map
from booking.grants.selectors.projects import gpu_types_allocated, member_projects
from booking.ledger.budget import BudgetVerdict, budget_verdict
from booking.ledger.selectors import Balance, balance_of
from booking.models import LIVE_BOOKING_STATES, CapacityBooking, GpuType, Project
from booking.permissions import can_cancel_booking, can_submit_job
from stargate_portal.errors import DomainError
from stargate_portal.input_limits import ID_MAX, date_or_none, datetime_or_none, whole_number

HEAT_MAP_DAYS = 14


def in_user_time_zone(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``login_required``, and the page read and written in the person's time zone."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with timezone.override(request.user.zone):  # type: ignore[union-attr]
            return view(request, *args, **kwargs)

    return wrapped


def _gpu_type(name: str | None) -> GpuType | None:
    types = GpuType.objects.order_by("name")
    return (types.filter(name=name).first() if name else None) or types.first()


# -- availability ----------------------------------------------------------------------------


@in_user_time_zone
def availability_view(request: AuthenticatedRequest) -> HttpResponse:
    """Free bookable nodes per hour for two weeks, as a heat map; a free hour starts a booking."""
    gpu_type = _gpu_type(request.GET.get("gpu_type"))
    if gpu_type is None:
        return render(request, "capacity/availability.html", {"gpu_type": None})
    zone = request.user.zone
    now = booking_now()
    today = now.astimezone(zone).date()
    first = _first_day(request.GET.get("from"), today)
    starts_at = hour_floor(datetime.combine(first, time(), tzinfo=zone))
    ends_at = hour_floor(datetime.combine(first + timedelta(days=HEAT_MAP_DAYS), time(), zone))
    policy = policy_for(gpu_type)
    found = availability(gpu_type=gpu_type, policy=policy, starts_at=starts_at, ends_at=ends_at)
    horizon = _widest_horizon(request, gpu_type, now)

    def link(hour: HourFree) -> str:
        if horizon is None or not horizon.earliest <= hour.starts_at <= horizon.latest:
            return ""
        query = urlencode({"gpu_type": gpu_type.name, "start": hour.starts_at.isoformat()})
        return f"{reverse('capacity:booking_new')}?{query}"

    last_first = today + timedelta(days=max(policy.horizons().values()))
    context = {
        "gpu_type": gpu_type,
        "gpu_types": GpuType.objects.order_by("name").values_list("name", flat=True),
        "policy": policy,
        "map": heat_map(
            found.hours,
            zone=zone,
            pool_nodes=found.pool_nodes,
            open_from=earliest_start(now),
            link=link,
        ),
        "first": first,
        "previous": first - timedelta(days=HEAT_MAP_DAYS) if first > today else None,
        "next": first + timedelta(days=HEAT_MAP_DAYS) if first < last_first else None,
        "horizon": horizon,
        "zone": request.user.time_zone,
    }
    return render(request, "capacity/availability.html", context)


def _first_day(text: str | None, today: date) -> date:
    chosen = date_or_none(text)
    return chosen if chosen is not None and chosen >= today else today


def _widest_horizon(
    request: AuthenticatedRequest, gpu_type: GpuType, now: datetime
) -> BookingHorizon | None:
    """The longest horizon among the projects the person may book for (None: none)."""
    projects = bookable_projects(request.user).select_related("organisation")[:50]
    policy = policy_for(gpu_type)
    horizons = [project_booking_horizon(project, policy, now) for project in projects]
    return max(horizons, key=lambda h: h.latest, default=None)


# -- book ------------------------------------------------------------------------------------


def _booking_form(request: AuthenticatedRequest) -> BookingForm:
    projects = bookable_projects(request.user)
    types = sorted({name for names in gpu_types_allocated(projects).values() for name in names})
    initial: dict[str, Any] = {"node_count": 1, "hours": 24}
    if (only := list(projects.values_list("pk", flat=True)[:2])) and len(only) == 1:
        initial["project"] = only[0]
    if request.GET.get("gpu_type") in types:
        initial["gpu_type"] = request.GET["gpu_type"]
    start = datetime_or_none(request.GET.get("start"))
    if start is not None and timezone.is_aware(start):
        initial["start"] = timezone.localtime(start)
    data = request.POST if request.method == "POST" else None
    return BookingForm(
        data,
        projects=projects,
        gpu_types=types,
        zone_name=request.user.time_zone,
        initial=initial,
    )


@in_user_time_zone
def booking_new(request: AuthenticatedRequest) -> HttpResponse:
    form = _booking_form(request)
    if request.method == "POST" and form.is_valid():
        gpu_type = get_object_or_404(GpuType, name=form.cleaned_data["gpu_type"])
        try:
            creation = booking_create(user=request.user, gpu_type=gpu_type, **form.service_kwargs())
        except DomainError as error:
            form.add_service_error(error)
            suggestions = _suggestions(error, form, gpu_type)
            return render(
                request, "capacity/booking_form.html", _form_context(request, form, suggestions)
            )
        if creation.created:
            messages.success(request, _("Your nodes are booked."))
        else:
            messages.info(request, _("This booking was already made; here it is."))
        return redirect("capacity:booking_detail", pk=creation.booking.pk)
    return render(request, "capacity/booking_form.html", _form_context(request, form))


def _form_context(
    request: AuthenticatedRequest,
    form: BookingForm,
    suggestions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "form": form,
        "quote": _quote(request, form.data or form.initial),
        "suggestions": suggestions or [],
        "zone": request.user.time_zone,
    }


def _suggestions(error: DomainError, form: BookingForm, gpu_type: GpuType) -> list[dict[str, Any]]:
    """The nearest free windows of a capacity refusal, as links that fill the form again."""
    if error.code != "capacity_unavailable":
        return []
    found = []
    for key, label in (("nearest_before", _("Earlier")), ("nearest_after", _("Later"))):
        window = error.details.get(key)
        if not window:
            continue
        start = parse_datetime(window["starts_at"])
        query = urlencode({"gpu_type": gpu_type.name, "start": window["starts_at"]})
        found.append(
            {
                "label": label,
                "starts_at": start,
                "ends_at": parse_datetime(window["ends_at"]),
                "url": f"{reverse('capacity:booking_new')}?{query}",
            }
        )
    return found


@in_user_time_zone
def booking_quote(request: AuthenticatedRequest) -> HttpResponse:
    """The live price, balance, capacity and refund deadline of the form (htmx)."""
    return render(request, "capacity/includes/quote.html", {"quote": _quote(request, request.GET)})


@dataclass(frozen=True)
class Quote:
    """What the booking would cost and mean, before it is made."""

    project: Project
    gpu_type: GpuType
    node_count: int
    hours: int
    starts_at: datetime
    ends_at: datetime
    gpu_hours: Decimal
    balance: Balance
    min_free_nodes: int | None
    refund_deadline: datetime

    @property
    def gpus(self) -> int:
        return self.node_count * self.gpu_type.gpus_per_node

    @property
    def after_gpu_hours(self) -> Decimal:
        return self.balance.available - self.gpu_hours

    @property
    def affordable(self) -> bool:
        """What the ledger will say of the hold: the available hours cover it now."""
        verdict = budget_verdict(hold_gpu_hours=self.gpu_hours, balance=self.balance)
        return verdict == BudgetVerdict.FITS

    @property
    def nodes_free(self) -> bool:
        return self.min_free_nodes is not None and self.min_free_nodes >= self.node_count


def _quote(request: AuthenticatedRequest, data: Any) -> Quote | None:
    """The quote of the form's current input; None until it is complete."""
    project_pk = whole_number(getattr(data.get("project"), "pk", data.get("project")), ID_MAX)
    node_count, hours = whole_number(data.get("node_count")), whole_number(data.get("hours"))
    start = _local_start(data.get("start"))
    gpu_type = GpuType.objects.filter(name=str(data.get("gpu_type") or "")).first()
    if None in (project_pk, start, gpu_type) or not node_count or not hours or hours > 24 * 366:
        return None
    project = bookable_projects(request.user).filter(pk=project_pk or 0).first()
    if project is None or start is None or gpu_type is None:
        return None
    ends_at = start + timedelta(hours=hours)
    found = (
        availability(
            gpu_type=gpu_type, policy=policy_for(gpu_type), starts_at=start, ends_at=ends_at
        )
        if start == hour_floor(start) and hours <= 14 * 24
        else None
    )
    return Quote(
        project=project,
        gpu_type=gpu_type,
        node_count=int(node_count),
        hours=hours,
        starts_at=start,
        ends_at=ends_at,
        gpu_hours=booking_gpu_hours(
            node_count=int(node_count), gpus_per_node=gpu_type.gpus_per_node, hours=hours
        ),
        balance=balance_of(project=project, gpu_type=gpu_type),
        min_free_nodes=min((h.free_nodes for h in found.hours), default=None) if found else None,
        refund_deadline=refund_deadline(start),
    )


def _local_start(value: Any) -> datetime | None:
    """A start as the form sends it (local, in the active time zone) or as the form holds it."""
    moment = value if isinstance(value, datetime) else datetime_or_none(value)
    if moment is None:
        return None
    if timezone.is_naive(moment):
        typed = moment
        moment = typed.replace(tzinfo=timezone.get_current_timezone())
        if moment.astimezone(UTC).astimezone(moment.tzinfo).replace(tzinfo=None) != typed:
            return None  # a local time the clocks skip
    return moment.astimezone(UTC)


# -- my bookings -----------------------------------------------------------------------------


@in_user_time_zone
def booking_list(request: AuthenticatedRequest) -> HttpResponse:
    projects = list(member_projects(request.user).values_list("pk", "name"))
    filters = BookingFilterForm(request.GET or None, projects=projects)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    bookings = member_bookings(request.user)
    if project := chosen.get("project"):
        bookings = bookings.filter(project_id=project)
    if state := chosen.get("state"):
        bookings = bookings.filter(state=state)
    context = {
        "filters": filters,
        "filtered": any(chosen.values()),
        "page": page_of(request, bookings),
        "can_book": bookable_projects(request.user).exists(),
        "has_projects": bool(projects),
        "zone": request.user.time_zone,
    }
    return render(request, "capacity/booking_list.html", context)


@in_user_time_zone
def booking_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    booking = booking_of(request.user, pk)
    return render(request, "capacity/booking_detail.html", _detail_context(request, booking))


def _detail_context(
    request: AuthenticatedRequest, booking: CapacityBooking, **extra: Any
) -> dict[str, Any]:
    now = booking_now()
    cancellable = booking.state in LIVE_BOOKING_STATES and now < booking.ends_at
    return {
        "booking": booking,
        "ledger_entries": booking_ledger_entries(booking),
        "refund_deadline": refund_deadline(booking.starts_at),
        "full_refund_now": booking.charged_at is None
        and full_refund_due(starts_at=booking.starts_at, now=now),
        "can_cancel": cancellable and can_cancel_booking(request.user, booking.project),
        "can_submit_job": cancellable and can_submit_job(request.user, booking.project),
        "submit_job_query": urlencode(
            {
                "project": str(booking.project_id),
                "booking": str(booking.pk),
                "gpu_type": str(booking.gpu_type.name),
                "gpus": str(booking.gpus),
            }
        ),
        "jobs": booking_jobs(booking),
        "cancel_form": extra.get("cancel_form") or CancelForm(),
        "zone": request.user.time_zone,
    }


@require_POST
@in_user_time_zone
def booking_cancel_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    booking = booking_of(request.user, pk)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            cancelled = booking_cancel(
                booking=booking, user=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            if cancelled.released_at is not None:
                messages.success(request, _("The booking is cancelled; its GPU-hours are back."))
            else:
                messages.success(
                    request,
                    _(
                        "The booking is cancelled. It was after the refund deadline, so its "
                        "GPU-hours are charged."
                    ),
                )
    return redirect("capacity:booking_detail", pk=booking.pk)


# -- calendar addresses ----------------------------------------------------------------------


@in_user_time_zone
def calendar_feeds(
    request: AuthenticatedRequest, new_url: str = "", new_project: Project | None = None
) -> HttpResponse:
    feeds = {feed.project_id: feed for feed in feeds_of(request.user)}
    projects = list(member_projects(request.user)[:100])
    context = {
        "rows": [(project, feeds.get(project.pk)) for project in projects],
        "new_url": new_url,
        "new_project": new_project,
    }
    return render(request, "capacity/calendar_feeds.html", context)


@require_POST
@in_user_time_zone
def calendar_feed_new(request: AuthenticatedRequest, project_pk: int) -> HttpResponse:
    project = get_object_or_404(member_projects(request.user), pk=project_pk)
    made = calendar_feed_create(user=request.user, project=project)
    # Shown in this response only: the token is stored nowhere, not even in the session.
    new_url = request.build_absolute_uri(reverse("capacity-feed", args=[made.token]))
    return calendar_feeds(request, new_url=new_url, new_project=project)


@require_POST
@login_required
def calendar_feed_revoke_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    feed = get_object_or_404(feeds_of(request.user), pk=pk)
    calendar_feed_revoke(feed=feed, user=request.user)
    messages.success(
        request, _("The calendar address of %(p)s no longer works.") % {"p": feed.project.name}
    )
    return redirect("capacity:calendar_feeds")
