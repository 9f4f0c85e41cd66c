"""Console access: Stargate staff only. Anonymous visitors log in; other users get 403."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts.models import User


class StaffRequest(HttpRequest):
    user: User


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Like ``staff_member_required``, but with the portal's login page and a 403 for non-staff."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped
