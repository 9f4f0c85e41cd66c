"""One exception handler: every API error is ``{"code", "message", "details"}``."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from stargate_portal import database_errors
from stargate_portal.api.parsers import RequestTooLarge
from stargate_portal.errors import DomainError
from stargate_portal.logs import correlation_id as request_correlation_id

logger = logging.getLogger("stargate_portal.api")

_CODE_BY_EXCEPTION: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.ValidationError, "invalid"),
    (exceptions.ParseError, "parse_error"),
    (RequestTooLarge, "request_too_large"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
]


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or {}}


def _details_of(exc: exceptions.APIException) -> Any:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        return detail if isinstance(detail, dict) else {"non_field_errors": detail}
    if isinstance(exc, exceptions.Throttled):
        return {"retry_after_seconds": getattr(exc, "wait", None)}
    return {}


def _message_of(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "The request is invalid; see details."
    return str(exc.detail)


def database_unavailable_body(correlation_id: str) -> dict[str, Any]:
    """The body of a 503 when the database could not serve the request (and its header's
    value, ``retry_after_seconds``)."""
    return error_body(
        database_errors.CODE,
        database_errors.MESSAGE,
        {
            "correlation_id": correlation_id,
            "retry_after_seconds": database_errors.RETRY_AFTER_SECONDS,
        },
    )


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Render any exception raised in an API view with the documented error shape."""
    if isinstance(exc, DomainError):
        set_rollback()  # as DRF does for its own errors, should a view run in a transaction
        retry = exc.retry_after_seconds
        headers = None if retry is None else {"Retry-After": str(retry)}
        body = error_body(exc.code, exc.message, exc.details)
        return Response(body, status=exc.status_code, headers=headers)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):  # e.g. too many form fields: the client's fault
        exc = exceptions.ParseError("The request is malformed.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None and database_errors.database_failure(exc):
        set_rollback()
        correlation_id = request_correlation_id()
        logger.error("database unavailable %s: %r", correlation_id, exc, exc_info=exc)
        return Response(
            database_unavailable_body(correlation_id),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(database_errors.RETRY_AFTER_SECONDS)},
        )
    if response is None:
        set_rollback()
        correlation_id = request_correlation_id()  # the id of the request's log lines
        logger.exception("unhandled API error %s", correlation_id, exc_info=exc)
        return Response(
            error_body(
                "server_error",
                "An unexpected error occurred. Quote the correlation id when reporting it.",
                {"correlation_id": correlation_id},
            ),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    assert isinstance(exc, exceptions.APIException)  # noqa: S101 - drf only handles these
    code = next((c for cls, c in _CODE_BY_EXCEPTION if isinstance(exc, cls)), "error")
    response.data = error_body(code, _message_of(exc), _details_of(exc))
    return response
