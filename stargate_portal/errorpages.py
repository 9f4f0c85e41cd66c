"""Error pages: JSON with the API error shape under /api/, HTML elsewhere."""

import sys
from typing import Any

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from stargate_portal import database_errors
from stargate_portal.api.errors import database_unavailable_body, error_body
from stargate_portal.logs import correlation_id


def bad_request(request: HttpRequest, exception: Any = None) -> HttpResponse:
    """A request refused before any view read it: what we raised ourselves says why
    (``BadRequest``); Django's own refusals (a suspicious host, too many fields) do not."""
    message = (
        str(exception)
        if isinstance(exception, BadRequest) and str(exception)
        else "The request could not be understood."
    )
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("bad_request", message), status=400)
    return render(request, "errors/400.html", {"message": message}, status=400)


def not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return render(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """The correlation id is the one the log lines of this request carry. Django calls this
    while it handles the exception, so ``sys.exc_info()`` is the error: one the database
    raised because it could not answer is a 503 (``stargate_portal.database_errors``)."""
    reference = correlation_id()
    if database_errors.database_failure(sys.exc_info()[1]):
        return database_unavailable(request, reference)
    if request.path.startswith("/api/"):
        message = "An unexpected error occurred. Quote the correlation id when reporting it."
        body = error_body("server_error", message, {"correlation_id": reference})
        return JsonResponse(body, status=500)
    return render(request, "errors/500.html", {"correlation_id": reference}, status=500)


def database_unavailable(request: HttpRequest, reference: str) -> HttpResponse:
    """503 with ``Retry-After``. The page is rendered without the request's context: the
    user's name, their messages or anything else a context would read come from the
    database that just failed."""
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(database_unavailable_body(reference), status=503)
    else:
        page = render_to_string("errors/503.html", {"correlation_id": reference})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(database_errors.RETRY_AFTER_SECONDS)
    return response
