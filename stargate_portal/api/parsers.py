"""The API's parsers: every request body is bounded here, in one place.

JSON is the API's language (``DEFAULT_PARSER_CLASSES``): a body is at most
``API_MAX_BODY_BYTES`` (413 otherwise), nested at most ``API_MAX_JSON_DEPTH`` deep, and all its
text (keys and values) is valid Unicode: an unpaired surrogate such as ``"\\ud800"`` can be
neither stored by PostgreSQL nor rendered in an answer, so it is refused before any field sees
it. The one multipart endpoint (an application's PDF) is bounded by its attachment size.

Error messages never repeat the offending input.
"""

import json
import math
import re
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser, MultiPartParser

_SURROGATE = re.compile("[\ud800-\udfff]")
# Room for the multipart framing and the other fields around the file.
_MULTIPART_OVERHEAD_BYTES = 64 * 1024


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with a size bound, a depth bound and a Unicode check."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestTooLarge(f"A JSON body may be at most {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise exceptions.ParseError(f"The body is not valid {encoding} text.") from exc
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError as exc:
            raise _too_deep() from exc
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error: {_position_of(exc)}") from exc
        json_check(data)
        return data


def json_check(data: Any) -> None:
    """Refuse nesting deeper than ``API_MAX_JSON_DEPTH``, unpaired surrogates in any key or
    string, and numbers too large for a float (``1e999``). Iterative, so depth costs no stack."""
    max_depth = settings.API_MAX_JSON_DEPTH
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise exceptions.ParseError("A number in the body is out of range.")
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise _too_deep()
            if isinstance(value, dict):
                for key in value:
                    _check_text(key)
            items = value.values() if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)


class BoundedMultiPartParser(MultiPartParser):
    """Multipart for file uploads, refused before reading when larger than an attachment may be
    (Django bounds the other fields: ``DATA_UPLOAD_MAX_MEMORY_SIZE``)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        request = (parser_context or {}).get("request")
        meta = getattr(request, "META", {})
        limit = settings.APPLICATION_ATTACHMENT_MAX_BYTES + _MULTIPART_OVERHEAD_BYTES
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            raise RequestTooLarge(f"A multipart body may be at most {limit} bytes.")
        return super().parse(stream, media_type, parser_context)


def _check_text(text: str) -> None:
    if _SURROGATE.search(text):
        raise exceptions.ParseError(
            "The body contains text that is not valid Unicode (an unpaired surrogate escape)."
        )


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _too_deep() -> exceptions.ParseError:
    return exceptions.ParseError(
        f"JSON may be nested at most {settings.API_MAX_JSON_DEPTH} levels deep."
    )


def _position_of(exc: ValueError) -> str:
    """Where the JSON broke, never what it said (``json`` messages quote no input)."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}."
    return "not a JSON document."
