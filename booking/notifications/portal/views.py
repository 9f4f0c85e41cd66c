"""In-portal notifications: newest first; mark one or all as read."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.portal.access import AuthenticatedRequest
from accounts.portal.pagination import page_of
from booking.models import Notification


def notifications_of(user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-pk")


@login_required
def notification_list(request: AuthenticatedRequest) -> HttpResponse:
    notifications = notifications_of(request.user)
    context = {
        "page": page_of(request, notifications),
        "unread_count": notifications.filter(read_at__isnull=True).count(),
    }
    return render(request, "notifications/notification_list.html", context)


@login_required
@require_POST
def notification_read(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Mark one as read; "open" also follows its link (only links within the portal)."""
    notification = get_object_or_404(notifications_of(request.user), pk=pk)
    # Marking read is the person's own bookkeeping: no rule, no audit, so no service.
    notifications_of(request.user).filter(pk=pk, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    target = notification.url
    if request.POST.get("open") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("notifications:notification_list")


@login_required
@require_POST
def notification_read_all(request: AuthenticatedRequest) -> HttpResponse:
    count = (
        notifications_of(request.user).filter(read_at__isnull=True).update(read_at=timezone.now())
    )
    if count:
        messages.success(request, _("All notifications are marked as read."))
    return redirect("notifications:notification_list")
