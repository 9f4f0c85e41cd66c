"""Error pages: JSON with the API error shape under /api/, HTML elsewhere."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from stargate_portal.api.errors import error_body
from stargate_portal.logs import correlation_id


def not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return render(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """The correlation id is the one the log lines of this request carry."""
    reference = correlation_id()
    if request.path.startswith("/api/"):
        message = "An unexpected error occurred. Quote the correlation id when reporting it."
        body = error_body("server_error", message, {"correlation_id": reference})
        return JsonResponse(body, status=500)
    return render(request, "errors/500.html", {"correlation_id": reference}, status=500)
