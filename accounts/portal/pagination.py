"""Long lists in the portal and the console: 25 a page, ``?page=`` in the query string."""

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PAGE_SIZE = 25


def page_of(request: HttpRequest, items: Any, *, per_page: int = PAGE_SIZE) -> Page[Any]:
    """The requested page (the last one when past the end, the first when not a number)."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))
