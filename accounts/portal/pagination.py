"""Long lists in the portal and the console: 25 a page, ``?page=`` in the query string;
past the rows a long list counts, ``?cursor=`` (a keyset page, ``stargate_portal.keyset``)."""

from functools import cached_property
from typing import Any

from django.core.paginator import EmptyPage, Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from stargate_portal.keyset import (
    InvalidCursor,
    KeysetPage,
    Ordering,
    count_so_far,
    keyset_page,
    ordering_of,
)

PAGE_SIZE = 25


class BoundedPage(Page):
    """A page of a list counted only so far: whether another page follows comes from one row
    read past this page, not from the count. ``next_cursor`` / ``previous_cursor``: the
    keyset links to take instead of page numbers (past the pages counted)."""

    next_cursor: str | None = None
    previous_cursor: str | None = None

    def __init__(self, object_list: Any, number: int, paginator: Any, *, more: bool) -> None:
        super().__init__(object_list, number, paginator)
        self.more = more

    def has_next(self) -> bool:
        return self.more


class CursorPage(BoundedPage):
    """A keyset page past the pages counted, reached by ``?cursor=``: its number is the one
    its link carried (for display); its neighbours are keyset pages too."""

    def __init__(self, page: KeysetPage, paginator: "BoundedPaginator") -> None:
        super().__init__(page.rows, page.number, paginator, more=page.next_cursor is not None)
        self.next_cursor = page.next_cursor
        self.previous_cursor = page.previous_cursor

    def has_previous(self) -> bool:
        return self.previous_cursor is not None


class BoundedPaginator(Paginator):
    """Counts at most ``count_max`` + 1 rows, so a page of a huge list costs its own rows, not
    the whole list; ``count_exact`` says whether there are more. Page numbers reach the rows
    counted (a number past them is the last page counted); from there, pages follow one
    another to the end of the list by cursor (each reads one row more to know whether there is
    a next one), so no page costs an offset longer than the count."""

    def __init__(self, object_list: Any, per_page: int, *, count_max: int) -> None:
        self.ordering: Ordering | None = None
        self.ordered: QuerySet[Any] | None = None  # the list, when cursors can page it
        if isinstance(object_list, QuerySet):
            self.ordering = ordering_of(object_list)
            object_list = self.ordered = self.ordering.apply(object_list)
        super().__init__(object_list, per_page)
        self.count_max = count_max

    @cached_property
    def count(self) -> int:
        return count_so_far(self.object_list, self.count_max)

    @property
    def count_exact(self) -> bool:
        return self.count <= self.count_max

    @property
    def full_pages_counted(self) -> int:
        """Pages surely there when the count stopped early ("page 2 of more than 40")."""
        return self.count_max // self.per_page

    def get_page(self, number: Any, cursor: str | None = None) -> Page[Any]:
        """The page of ``cursor`` when it is one of this list's, else page ``number``."""
        if cursor and self.ordering is not None and self.ordered is not None:
            try:
                position = self.ordering.decode(cursor)
            except InvalidCursor:
                pass
            else:
                page = keyset_page(self.ordered, self.ordering, position, self.per_page)
                return CursorPage(page, self)
        try:
            return super().get_page(number)
        except EmptyPage:  # past the end of a list counted only so far: the last page counted
            return self.page(self.num_pages)

    def page(self, number: Any) -> Page[Any]:
        number = self.validate_number(number)
        if self.count_exact:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        if not rows:
            raise EmptyPage(_("That page contains no results"))
        page = BoundedPage(rows[: self.per_page], number, self, more=len(rows) > self.per_page)
        if page.more and number >= self.num_pages and self.ordering is not None:
            # Past the rows counted, an offset would cost every row it skips: keyset pages.
            page.next_cursor = self.ordering.token(page[-1], backwards=False, number=number + 1)
        return page


def page_of(
    request: HttpRequest, items: Any, *, per_page: int = PAGE_SIZE, count_max: int | None = None
) -> Page[Any]:
    """The requested page (the last one when past the end, the first when not a number).
    With ``count_max``, at most that many rows are counted (``BoundedPaginator``)."""
    paginator = (
        Paginator(items, per_page)
        if count_max is None
        else BoundedPaginator(items, per_page, count_max=count_max)
    )
    if isinstance(paginator, BoundedPaginator):
        return paginator.get_page(request.GET.get("page"), request.GET.get("cursor"))
    return paginator.get_page(request.GET.get("page"))
