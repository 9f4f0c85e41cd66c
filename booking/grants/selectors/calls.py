"""Call and application reads."""

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from booking.models import Application, Call, CallPool, CallState, ReviewAssignment
from stargate_portal.permissions import is_staff


def calls_visible_to(user: User) -> QuerySet[Call]:
    """Open calls for everyone (plus closed ones, for history); drafts only for staff."""
    qs = Call.objects.prefetch_related(
        Prefetch("pools", queryset=CallPool.objects.select_related("gpu_type")), "criteria"
    )
    if not is_staff(user):
        qs = qs.exclude(state=CallState.DRAFT)
    return qs.order_by("-opens_at", "pk")


def open_calls() -> QuerySet[Call]:
    """Calls accepting applications now (``Call.accepts_submissions``)."""
    return Call.objects.accepting_submissions()


def call_of(user: User, pk: int) -> Call:
    return get_object_or_404(calls_visible_to(user), pk=pk)


def _with_details(qs: QuerySet[Application]) -> QuerySet[Application]:
    return qs.select_related("call", "organisation", "applicant").prefetch_related(
        "requests__gpu_type",
        "team",
        Prefetch(
            "assignments",
            queryset=ReviewAssignment.objects.select_related("reviewer").prefetch_related(
                "scores__criterion"
            ),
        ),
    )


def applications_of(user: User) -> QuerySet[Application]:
    """The user's own applications (reviewers and other tenants see none of them here)."""
    return _with_details(Application.objects.filter(applicant=user)).order_by("-created_at", "-pk")


def application_of(user: User, pk: int) -> Application:
    return get_object_or_404(applications_of(user), pk=pk)


def applications_for_staff() -> QuerySet[Application]:
    return _with_details(Application.objects.all()).order_by("-created_at", "-pk")
