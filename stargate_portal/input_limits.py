"""How much text and how large a number any input may carry, for the API and the portal alike.

A text field that is stored in a bounded column takes the column's own ``max_length``
(``column_max_length``), so the model stays the one owner of the bound and an over-long value
is a 400 next to its field, never a database error. Free text stored in an unbounded column
(an abstract, a description) is bounded by ``TEXT_MAX_CHARS``. Tests walk every write
serializer and form and check both (``tests/infra/test_input_bounds.py``).
"""

from django.db.models import Model

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


def column_max_length(model: type[Model], field_name: str) -> int:
    """The ``max_length`` of a bounded text column."""
    max_length = getattr(model._meta.get_field(field_name), "max_length", None)
    if max_length is None:
        raise ValueError(f"{model.__name__}.{field_name} has no max_length")
    return int(max_length)
