"""How much text and how large a number any input may carry, for the API and the portal alike.

A text field that is stored in a bounded column takes the column's own ``max_length``
(``column_max_length``), so the model stays the one owner of the bound and an over-long value
is a 400 next to its field, never a database error. Free text stored in an unbounded column
(an abstract, a description) is bounded by ``TEXT_MAX_CHARS``. Tests walk every write
serializer and form and check both (``tests/infra/test_input_bounds.py``).
"""

from collections.abc import Callable
from datetime import date, datetime

from django.core.exceptions import BadRequest
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.dateparse import parse_date, parse_datetime

TEXT_MAX_CHARS = 20_000
"""Free text: about ten pages, more than any abstract, case for support or description."""

ID_MAX = 2**63 - 1
"""The largest primary key (a PostgreSQL bigint)."""

INT_MAX = 2**31 - 1
"""The largest value of an integer column."""


def whole_number(text: object, maximum: int = INT_MAX) -> int | None:
    """``text`` as a whole number of ASCII digits no larger than ``maximum``, else None: for
    numbers read from a query string or a form by hand. (``str.isdigit`` alone also says yes
    to "²", which ``int`` refuses, and to numbers no column holds.)"""
    value = str(text if text is not None else "").strip()
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(maximum)):
        return None
    number = int(value)
    return number if number <= maximum else None


DATE_MIN = date(1970, 1, 1)
DATE_MAX = date(2999, 12, 31)
"""The dates read from a query string by hand: far enough from Python's limits that a page can
add or take away its weeks (9999-12-31 plus a fortnight is an OverflowError)."""


def date_or_none(text: object) -> date | None:
    """``text`` as an ISO date from ``DATE_MIN`` to ``DATE_MAX``, else None. (Django's
    ``parse_date`` raises on a well-formed date that does not exist, such as 2026-13-45.)"""
    try:
        found = parse_date(str(text or ""))
    except ValueError:
        return None
    return found if found is not None and DATE_MIN <= found <= DATE_MAX else None


def datetime_or_none(text: object) -> datetime | None:
    """``text`` as an ISO date and time within the dates of ``date_or_none``, else None."""
    try:
        found = parse_datetime(str(text or ""))
    except ValueError:
        return None
    return found if found is not None and DATE_MIN <= found.date() <= DATE_MAX else None


def column_max_length(model: type[Model], field_name: str) -> int:
    """The ``max_length`` of a bounded text column."""
    max_length = getattr(model._meta.get_field(field_name), "max_length", None)
    if max_length is None:
        raise ValueError(f"{model.__name__}.{field_name} has no max_length")
    return int(max_length)


class NulInputMiddleware:
    """An address, a header, a query string or a posted form with a NUL character is a 400
    before any view reads it. PostgreSQL keeps no NUL in text, so a view filtering by such a
    value failed with a 500 (the booking form's live quote looked its GPU type up by the
    posted name; the console's capacity rules look theirs up by the name in the address, where
    ``%00`` is a NUL; a submit looked its Idempotency-Key up, an API token its key); form and
    serializer fields refuse NUL themselves, and this covers what views and authentication
    read by hand. No person types a NUL into a form; JSON bodies are the serializers' (which
    answer ``invalid``), uploaded files are not read. The session cookie is the session
    store's (``stargate_portal.sessions``): a cookie is not the request's to refuse."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            raise BadRequest("The address holds a NUL character.")
        for name, value in request.headers.items():
            if "\x00" in value:
                raise BadRequest(f"The header {name[:50]!r} holds a NUL character.")
        _refuse_nul(request.GET, "query string")
        if request.method == "POST" and request.content_type in _FORMS:
            _refuse_nul(request.POST, "form")
        return self.get_response(request)


_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refuse_nul(data: QueryDict, where: str) -> None:
    for name, values in data.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            raise BadRequest(f"The {where}'s {name[:50]!r} holds a NUL character.")
