"""A project's ledger through the API: three entries per finished job, for ever. Its list
counts only so far and pages on to the end; its CSV export streams the whole history."""

import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from booking.grants.api import projects as projects_api
from booking.models import GpuType, LedgerEntry, LedgerEntryKind, Project
from stargate_portal.api.pagination import BoundedCountPagination
from stargate_portal.keyset import ordering_of
from stargate_portal.postgresql.costs import pages_read, rows_read
from tests.error_shape import assert_error

pytestmark = pytest.mark.django_db


def add_charges(project: Project, n: int, first: int = 0) -> None:
    """``n`` charges a minute apart, after the grant (as finished jobs leave them)."""
    start = timezone.now() + timedelta(minutes=first)
    h100 = GpuType.objects.get(name="H100")
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            project=project,
            gpu_type=h100,
            kind=LedgerEntryKind.CHARGE,
            gpu_hours=Decimal(1),
            idempotency_key=f"job-{k}-charge",
            created_at=start + timedelta(minutes=k),
        )
        for k in range(first, first + n)
    )


def ledger_url(project: Project, tail: str = "") -> str:
    return f"/api/v1/projects/{project.pk}/ledger/{tail}"


def test_a_long_ledger_is_counted_only_so_far_and_its_pages_go_on_to_the_end(
    api, alice, project, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(BoundedCountPagination, "count_max", 30)
    add_charges(project, 80)  # with the grant: 81 entries, oldest first
    client = api(alice)

    with django_assert_max_num_queries(6):
        first = client.get(ledger_url(project), {"page_size": 25}).json()
    second = client.get(ledger_url(project), {"page_size": 25, "page": 2}).json()
    too_deep = client.get(ledger_url(project), {"page_size": 25, "page": 3})
    only_grants = client.get(ledger_url(project), {"kind": "grant"}).json()

    assert first["count"] is None
    assert first["previous"] is None
    assert first["next"].endswith(f"{ledger_url(project)}?page=2&page_size=25")
    assert [e["kind"] for e in first["results"][:2]] == ["grant", "charge"]
    assert len(first["results"]) == 25
    # Page numbers reach the 30 rows counted (pages 1 and 2 of 25); the next link of the
    # last numbered page carries a cursor instead, and following the links reaches the end.
    assert "cursor=" in second["next"]
    assert "page=" not in second["next"]
    body = assert_error(too_deep, 400, "page_too_deep")
    assert body["details"]["last_numbered_page"] == 2
    pages = [first, second]
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())
    keys = [e["idempotency_key"] for page in pages for e in page["results"]]
    assert len(pages) == 4
    assert keys[1:] == [f"job-{k}-charge" for k in range(80)]
    assert [page["count"] for page in pages] == [None] * 4
    # And back from the last page by the previous links, which carry cursors too.
    back = [pages[-1]]
    while back[-1]["previous"]:
        back.append(client.get(back[-1]["previous"]).json())
    assert [e["idempotency_key"] for page in reversed(back) for e in page["results"]] == keys
    # Below the bound the count is exact.
    assert only_grants["count"] == 1
    assert [e["kind"] for e in only_grants["results"]] == ["grant"]


def test_a_cursor_that_is_not_one_of_the_lists_is_a_400(api, alice, project) -> None:
    response = api(alice).get(ledger_url(project), {"cursor": "eyJ2IjpbMV19"})

    body = assert_error(response, 400, "invalid_cursor")
    assert list(body["details"]) == ["cursor"]


@pytest.mark.postgres
def test_a_page_of_the_ledger_reads_no_more_rows_when_the_history_doubles(
    api, alice, project, monkeypatch
):
    monkeypatch.setattr(BoundedCountPagination, "count_max", 100)
    client = api(alice)

    def cost() -> tuple[int, int, int, list[Any]]:
        before = rows_read()
        with CaptureQueriesContext(connection) as queries:
            body = client.get(ledger_url(project), {"page_size": 20, "page": 2}).json()
        rows = rows_read() - before
        pages = sum(pages_read(q["sql"]) for q in queries.captured_queries)
        return len(queries), rows, pages, [e["idempotency_key"] for e in body["results"]]

    add_charges(project, 600)
    connection.cursor().execute("ANALYZE booking_ledgerentry")
    queries, rows, pages, shown = cost()
    add_charges(project, 600, first=600)
    connection.cursor().execute("ANALYZE booking_ledgerentry")
    queries_doubled, rows_doubled, pages_doubled, shown_doubled = cost()

    assert shown == shown_doubled == [f"job-{k}-charge" for k in range(19, 39)]
    assert queries_doubled == queries
    # The whole count read 601, then 1,201 entries; now it stops after 101 either way.
    assert rows_doubled - rows <= 10, (rows, rows_doubled)
    assert pages_doubled - pages <= 4, (pages, pages_doubled)


@pytest.mark.postgres
def test_the_last_page_of_a_long_ledger_costs_what_the_first_costs(
    api, alice, project, monkeypatch
):
    """Past the numbered pages the links carry a cursor: the page starts at its row through
    the index, where an offset read every entry before it."""
    monkeypatch.setattr(BoundedCountPagination, "count_max", 100)
    client = api(alice)
    ordering = ordering_of(LedgerEntry.objects.order_by("created_at", "pk"))

    def last_page() -> tuple[int, list[str]]:
        entries = LedgerEntry.objects.filter(project=project).order_by("-created_at", "-pk")
        anchor = entries[20]  # the 20 entries after it are the last page
        token = ordering.token(anchor, backwards=False, number=2)
        before = rows_read()
        body = client.get(ledger_url(project), {"page_size": 20, "cursor": token}).json()
        assert body["next"] is None
        return rows_read() - before, [e["idempotency_key"] for e in body["results"]]

    add_charges(project, 600)
    connection.cursor().execute("ANALYZE booking_ledgerentry")
    rows, shown = last_page()
    add_charges(project, 600, first=600)
    connection.cursor().execute("ANALYZE booking_ledgerentry")
    rows_doubled, shown_doubled = last_page()

    assert shown == [f"job-{k}-charge" for k in range(580, 600)]
    assert shown_doubled == [f"job-{k}-charge" for k in range(1180, 1200)]
    # An offset of 1,180 entries read them all (and 580 before the history doubled).
    assert rows_doubled - rows <= 10, (rows, rows_doubled)


@pytest.mark.postgres
def test_the_csv_export_streams_every_entry_oldest_first_in_chunks(
    api, alice, project, monkeypatch
):
    monkeypatch.setattr(projects_api, "LEDGER_EXPORT_CHUNK", 7)
    fetched: list[int] = []
    fetchmany = psycopg.ServerCursor.fetchmany

    def counted(cursor: psycopg.ServerCursor, size: int = 0) -> list[Any]:
        rows = fetchmany(cursor, size)
        fetched.append(len(rows))
        return rows

    monkeypatch.setattr(psycopg.ServerCursor, "fetchmany", counted)
    add_charges(project, 40)
    client = api(alice)

    response = client.get(ledger_url(project, "export/"))
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    seen = list(fetched)
    charges_only = client.get(ledger_url(project, "export/"), {"kind": "charge"})
    bad_filter = client.get(ledger_url(project, "export/"), {"created_after": "yesterday"})

    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == projects_api.LEDGER_CSV_HEADER
    assert [r[1] for r in rows[1:3]] == ["grant", "charge"]
    assert [r[4] for r in rows[2:]] == [f"job-{k}-charge" for k in range(40)]
    assert rows[1][2:4] == ["H100", "4000.0000"]
    # 41 entries, 7 at a time from a server-side cursor, never all of them at once.
    assert seen[:6] == [7, 7, 7, 7, 7, 6], seen
    charged = list(csv.reader(io.StringIO(b"".join(charges_only.streaming_content).decode())))
    assert len(charged) == 41
    assert {r[1] for r in charged[1:]} == {"charge"}
    assert bad_filter.status_code == 400
    assert bad_filter.json()["code"] == "invalid"
    assert "created_after" in bad_filter.json()["details"]
