"""The ``Idempotency-Key`` header of the API's writes that take one (a job submit, a booking):
how it is documented and read, in one place."""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from stargate_portal.errors import ValidationFailed


def idempotency_key_parameter(description: str) -> OpenApiParameter:
    """The header in the OpenAPI schema; ``description`` says what a retry returns."""
    return OpenApiParameter(
        "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, description=description
    )


def idempotency_key(request: Request, *, max_length: int) -> str:
    """The request's key without surrounding blanks ("" without one), at most ``max_length``
    characters (the column that keeps it), else a 400 ``invalid_idempotency_key``. (A NUL in
    any header is refused before: ``stargate_portal.input_limits``.)"""
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > max_length:
        raise ValidationFailed(
            _("An Idempotency-Key has at most %(count)d characters.") % {"count": max_length},
            code="invalid_idempotency_key",
        )
    return key
