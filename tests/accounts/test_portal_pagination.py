"""The portal's bounded paginator: a page of a huge list costs its rows, not the list."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.portal.pagination import BoundedPaginator

pytestmark = pytest.mark.django_db


@pytest.fixture
def users() -> None:
    User.objects.bulk_create(User(email=f"user{n}@example.org") for n in range(12))


@pytest.mark.usefixtures("users")
def test_the_count_stops_at_the_bound_and_asks_for_no_order() -> None:
    ordered = User.objects.filter(email__startswith="user").order_by("-email")
    paginator = BoundedPaginator(ordered, 5, count_max=10)

    with CaptureQueriesContext(connection) as queries:
        assert paginator.count == 11
    assert not paginator.count_exact
    assert len(queries) == 1
    assert "ORDER BY" not in queries[0]["sql"].upper()
    # The page itself keeps the list's order.
    assert [user.email for user in paginator.page(1)] == [
        f"user{n}@example.org" for n in (9, 8, 7, 6, 5)
    ]


@pytest.mark.usefixtures("users")
def test_a_short_list_is_counted_exactly() -> None:
    users = User.objects.filter(email__startswith="user").order_by("email")
    paginator = BoundedPaginator(users, 5, count_max=50)

    assert (paginator.count, paginator.count_exact, paginator.num_pages) == (12, True, 3)


@pytest.mark.usefixtures("users")
def test_pages_past_the_count_follow_one_another_to_the_end_of_the_list_by_cursor() -> None:
    users = User.objects.filter(email__startswith="user").order_by("email")
    paginator = BoundedPaginator(users, 2, count_max=3)  # counts 4 of the 12: pages 1 and 2

    pages = [paginator.get_page(1), paginator.get_page(2)]
    while pages[-1].has_next():
        assert pages[-1].next_cursor, pages[-1].number
        pages.append(paginator.get_page(None, pages[-1].next_cursor))
    back = [pages[-1]]
    while back[-1].has_previous():
        back.append(paginator.get_page(None, back[-1].previous_cursor))
    beyond = paginator.get_page(7)

    assert not paginator.count_exact
    everyone = [user.email for user in users.order_by("email", "pk")]  # the database's collation
    assert len(everyone) == 12
    assert [user.email for page in pages for user in page] == everyone
    assert [page.number for page in pages] == [1, 2, 3, 4, 5, 6]
    assert pages[0].next_cursor is None  # page 2 is reached by its number
    assert [page.has_next() for page in pages] == [True] * 5 + [False]
    assert pages[5].has_previous()
    # Back from there by cursor, to the start of the list.
    assert [user.email for page in reversed(back) for user in page] == everyone
    assert [page.number for page in back] == [6, 5, 4, 3, 2, 1]
    assert back[-1].previous_cursor is None
    # A page number past the pages counted is the last one counted, as for an exact count.
    assert beyond.number == 2


@pytest.mark.usefixtures("users")
def test_a_cursor_that_is_not_one_of_the_lists_is_ignored() -> None:
    users = User.objects.filter(email__startswith="user").order_by("email")
    paginator = BoundedPaginator(users, 2, count_max=3)

    page = paginator.get_page("2", "not-a-cursor")

    assert page.number == 2
    assert list(page) == list(users.order_by("email", "pk")[2:4])


@pytest.mark.usefixtures("users")
def test_a_page_number_no_list_can_reach_is_the_last_page_counted() -> None:
    users = User.objects.filter(email__startswith="user").order_by("email")
    paginator = BoundedPaginator(users, 2, count_max=3)

    for number in ("1000001", str(10**30), "-4", "nine"):
        page = paginator.get_page(number)
        assert page.number == (1 if number == "nine" else 2), number
        assert len(page) == 2
