"""A project's ledger pages read that project's entries, on PostgreSQL: not the entries other
projects wrote since, whatever the planner guesses of how the projects' entries are spread in
time."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services.tokens import api_token_create
from booking.grants.portal.views.projects import LEDGER_COUNT_MAX
from booking.ledger.checkpoints import ledger_checkpoints_advance
from booking.models import GpuType, LedgerEntry, LedgerEntryKind, Project
from stargate_portal.postgresql.costs import rows_read

pytestmark = pytest.mark.postgres

ENTRIES = 6_000
"""Entries of the busy project, all older than as many entries of another project."""
ROWS_MAX = LEDGER_COUNT_MAX + 500
"""Rows a page may read: its count (up to ``LEDGER_COUNT_MAX`` + 1 entries, on purpose), 25
entries with their GPU types and actors, the page's other queries; walking past the other
project's newer entries reads ``ENTRIES`` more."""


def _entries(project: Project, gpu_type: GpuType, start: Any, tag: str) -> list[LedgerEntry]:
    return [
        LedgerEntry(
            project=project,
            gpu_type=gpu_type,
            kind=LedgerEntryKind.GRANT,
            gpu_hours=Decimal(1),
            idempotency_key=f"{tag}-{n}",
            reason=f"{tag}-{n}",
            created_at=start + timedelta(seconds=n),
        )
        for n in range(ENTRIES)
    ]


def test_the_busy_project_s_ledger_pages_read_only_its_entries(
    alice: User, alice_project: Project, bob_project: Project, h100: GpuType
) -> None:
    start = timezone.now() - timedelta(days=2)
    # Half of the ledger is the busy project's, all of it older than the other half.
    LedgerEntry.objects.bulk_create(_entries(alice_project, h100, start, "old"), batch_size=1000)
    later = start + timedelta(days=1)
    LedgerEntry.objects.bulk_create(_entries(bob_project, h100, later, "new"), batch_size=1000)
    ledger_checkpoints_advance()  # as beat does: balances read the entries after it
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE booking_ledgerentry")
    portal = Client()
    portal.force_login(alice)
    _, token = api_token_create(user=alice, name="ledger", expires_in_days=1)
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    pages: dict[str, Callable[[], Any]] = {
        "ledger page": lambda: portal.get(
            reverse("grants:project_ledger", args=[alice_project.pk])
        ),
        "project page": lambda: portal.get(
            reverse("grants:project_detail", args=[alice_project.pk])
        ),
        "API ledger": lambda: api.get(f"/api/v1/projects/{alice_project.pk}/ledger/"),
    }

    read = {}
    for name, page in pages.items():
        page()  # the session, the token and the plans, once
        before = rows_read()
        response = page()
        assert response.status_code == 200, name
        read[name] = rows_read() - before

    assert {name: rows for name, rows in read.items() if rows > ROWS_MAX} == {}
    newest = portal.get(reverse("grants:project_ledger", args=[alice_project.pk]))
    assert f"old-{ENTRIES - 1}" in newest.content.decode()  # its latest entry, first


def test_the_connection_prices_random_reads_as_on_ssds(db: None) -> None:
    # With PostgreSQL's default of 4 the busy project's page above read 6,032 rows: to find
    # the entries after its checkpoint the planner walked the primary key past the other
    # project's newer entries rather than the project's own index.
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        (cost,) = cursor.fetchone()
    assert float(cost) == 1.1
