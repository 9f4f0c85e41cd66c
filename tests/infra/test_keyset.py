"""Keyset pages (``stargate_portal.keyset``): walking a list by the position of a row, in
either direction, through ties of the first key, and refusing what is not a cursor."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import User
from stargate_portal.keyset import Cursor, InvalidCursor, keyset_page, ordering_of

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def users() -> list[User]:
    """20 users joined in 8 distinct instants (ties of 2 or 3), microseconds apart."""
    User.objects.bulk_create(
        User(email=f"k{n:02}@example.org", date_joined=START + timedelta(microseconds=n // 3))
        for n in range(20)
    )
    return list(User.objects.filter(email__startswith="k").order_by("-date_joined", "-pk"))


def walk(rows, size: int, *, backwards: bool = False) -> list[list[str]]:
    """Every page of ``rows`` from one end, each found from the previous page's edge row."""
    ordering = ordering_of(rows)
    ordered = list(ordering.apply(rows))
    edge = ordered[-1] if backwards else ordered[0]
    first = [edge]
    pages = [first]
    while True:
        anchor = pages[-1][0] if backwards else pages[-1][-1]
        token = ordering.token(anchor, backwards=backwards, number=len(pages) + 1)
        found = keyset_page(rows, ordering, ordering.decode(token), size)
        page = found.rows
        more = (found.previous_cursor if backwards else found.next_cursor) is not None
        if not page:
            break
        pages.append(page)
        if not more:
            break
    return [[user.email for user in page] for page in pages]


def test_pages_walk_the_whole_list_through_ties_in_both_directions(users: list[User]) -> None:
    rows = User.objects.filter(email__startswith="k").order_by("-date_joined")
    expected = [user.email for user in users]

    forwards = walk(rows, 3)
    backwards = walk(rows, 3, backwards=True)

    assert [email for page in forwards for email in page] == expected
    assert [email for page in reversed(backwards) for email in page] == expected
    assert all(len(page) <= 3 for page in forwards + backwards)


def test_the_primary_key_is_added_as_the_last_key_in_the_direction_of_the_last() -> None:
    ordering = ordering_of(User.objects.order_by("-date_joined"))
    ascending = ordering_of(User.objects.order_by("email"))
    explicit = ordering_of(User.objects.order_by("date_joined", "-pk"))

    assert [(field.name, descending) for field, descending in ordering.keys] == [
        ("date_joined", True),
        ("id", True),
    ]
    assert [(field.name, descending) for field, descending in ascending.keys] == [
        ("email", False),
        ("id", False),
    ]
    assert [(field.name, descending) for field, descending in explicit.keys] == [
        ("date_joined", False),
        ("id", True),
    ]


def test_a_cursor_keeps_microseconds_and_its_page_number(users: list[User]) -> None:
    ordering = ordering_of(User.objects.order_by("-date_joined"))
    row = users[7]

    cursor = ordering.decode(ordering.token(row, backwards=True, number=42))

    assert cursor == Cursor((row.date_joined, row.pk), True, 42)
    assert cursor.values[0].microsecond == row.date_joined.microsecond != 0


def _token(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage!",
        "x" * 2_000,
        _token([1, 2]),
        _token({"v": ["2026-03-01T12:00:00+00:00"], "b": 0, "n": 2}),  # one value short
        _token({"v": ["2026-03-01T12:00:00+00:00", "1", "2"], "b": 0, "n": 2}),
        _token({"v": ["not a time", "1"], "b": 0, "n": 2}),
        _token({"v": ["2026-03-01T12:00:00", "1"], "b": 0, "n": 2}),  # no time zone
        _token({"v": ["2026-03-01T12:00:00+00:00", "one"], "b": 0, "n": 2}),
        _token({"v": ["2026-03-01T12:00:00+00:00", None], "b": 0, "n": 2}),
        _token({"v": ["2026-03-01T12:00:00+00:00", "1"], "b": 2, "n": 2}),
        _token({"v": ["2026-03-01T12:00:00+00:00", "1"], "b": 0, "n": 0}),
        _token({"v": ["2026-03-01T12:00:00+00:00", "1"], "b": 0, "n": "2"}),
        _token({"v": ["2026-03-01T12:00:00+00:00", "1"], "b": 0}),
    ],
)
def test_anything_but_a_cursor_of_the_list_is_refused(token: str) -> None:
    ordering = ordering_of(User.objects.order_by("-date_joined"))

    with pytest.raises(InvalidCursor):
        ordering.decode(token)


@pytest.mark.parametrize("order", [("memberships__role",), ("?",), ("last_login",)])
def test_an_order_no_keyset_can_follow_is_a_programming_error(order: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="keyset page"):
        ordering_of(User.objects.order_by(*order))
