from typing import Any

from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class BoundedCountPagination(PageNumberPagination):
    """Page numbers for lists that grow with the work (a busy project's jobs): ``count`` is
    exact up to ``count_max`` and null beyond, and ``next`` comes from one extra row, so a page
    costs its rows and its offset, never the whole list."""

    count_max = 1_000

    def paginate_queryset(  # type: ignore[override]
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        self.request = self._request = request
        raw = request.query_params.get(self.page_query_param, "1")
        if not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
            raise NotFound(self.invalid_page_message.format(page_number=raw, message=""))
        self.number = int(raw)
        offset = (self.number - 1) * page_size
        rows = list(queryset[offset : offset + page_size + 1])
        if self.number > 1 and not rows:
            raise NotFound(self.invalid_page_message.format(page_number=raw, message=""))
        self.has_next = len(rows) > page_size
        counted = queryset.order_by()[: self.count_max + 1].count()
        self.total: int | None = counted if counted <= self.count_max else None
        return rows[:page_size]

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.total,
                "next": self._link(self.number + 1) if self.has_next else None,
                "previous": self._link(self.number - 1) if self.number > 1 else None,
                "results": data,
            }
        )

    def _link(self, number: int) -> str:
        url = self._request.build_absolute_uri()
        if number == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, number)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        shape = super().get_paginated_response_schema(schema)
        shape["properties"]["count"] = {
            "type": "integer",
            "nullable": True,
            "description": f"Exact up to {self.count_max}; null when there are more.",
        }
        return shape
