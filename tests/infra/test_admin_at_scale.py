"""The Django admin stays usable on a site of thousands of projects, users and ledger entries:
a foreign key to a growing table is a search box (never a <select> of every row), and the audit
lists count their rows once."""

import json
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from booking.ledger.services import ledger_grant
from booking.models import Allocation, Project
from stargate_portal.admin_scale import CountSoFarPaginator
from tests.factories import (
    AllocationFactory,
    OrganisationFactory,
    ProjectFactory,
    UserFactory,
)
from tests.pages import page_text

pytestmark = pytest.mark.django_db

# Each add form, and the fields of it that point at a table that grows with the site.
ADD_FORMS = {
    "/admin/booking/allocation/add/": ["project"],
    "/admin/booking/projectmember/add/": ["project", "user"],
    "/admin/booking/project/add/": ["organisation", "application"],
    "/admin/booking/application/add/": ["call", "applicant", "organisation"],
    "/admin/booking/reviewassignment/add/": ["application", "reviewer", "assigned_by"],
    "/admin/accounts/membership/add/": ["user", "organisation"],
    "/admin/accounts/joinrequest/add/": ["user", "organisation", "decided_by"],
    "/admin/accounts/apitoken/add/": ["user"],
}


def _options_of(html: str, field: str) -> list[str]:
    select = re.search(rf'<select name="{field}"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None, f"no <select> for {field}"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


@pytest.mark.parametrize("url", list(ADD_FORMS))
def test_add_forms_search_growing_tables_instead_of_listing_every_row(
    admin_client: Client, url: str
) -> None:
    organisation = OrganisationFactory()
    ProjectFactory.create_batch(30, organisation=organisation)
    UserFactory.create_batch(30)

    html = admin_client.get(url).content.decode()

    for field in ADD_FORMS[url]:
        # The autocomplete widget renders the chosen row only (none on an add form) and asks
        # the admin's search for the rest.
        assert [value for value in _options_of(html, field) if value] == []
        widget = re.search(rf'<select name="{field}"[^>]*>', html)
        assert widget is not None
        assert 'data-ajax--url="/admin/autocomplete/"' in widget.group(0)


def test_the_project_search_finds_a_project_by_name(admin_client: Client) -> None:
    organisation = OrganisationFactory()
    ProjectFactory.create_batch(30, organisation=organisation)
    wanted: Project = ProjectFactory(organisation=organisation, name="Fjord climate ensemble")

    response = admin_client.get(
        "/admin/autocomplete/",
        {
            "app_label": "booking",
            "model_name": "allocation",
            "field_name": "project",
            "term": "fjord",
        },
    )

    assert response.status_code == 200
    assert json.loads(response.content)["results"] == [{"id": str(wanted.pk), "text": str(wanted)}]
    assert Project.objects.count() == 31


def _grants(count: int) -> None:
    """``count`` ledger entries (grants) of one allocation."""
    allocation: Allocation = AllocationFactory()
    for n in range(count):
        ledger_grant(
            project=allocation.project,
            gpu_type=allocation.gpu_type,
            gpu_hours=Decimal(10 + n),
            key=f"grant-{n}",
        )


def test_the_ledger_list_counts_its_entries_once(admin_client: Client) -> None:
    _grants(3)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/booking/ledgerentry/", {"kind": "grant"})

    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert response.status_code == 200
    assert len(counts) == 1, counts  # the filtered rows, not the whole ledger a second time
    assert response.context["cl"].result_count == 3


def test_a_ledger_longer_than_the_count_says_more_than_and_counts_no_further(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CountSoFarPaginator, "count_max", 5)
    _grants(8)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/booking/ledgerentry/")
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    short = admin_client.get("/admin/booking/ledgerentry/", {"kind": "grant", "gpu_type": 0})

    assert response.status_code == 200
    assert len(counts) == 1
    assert "LIMIT 6" in counts[0]  # the count stops one row past count_max
    assert "more than 5 ledger entries" in page_text(response)
    assert response.context["cl"].result_count == 6
    # A list that fits says how long it is.
    assert short.status_code == 200
    assert "0 ledger entries" in page_text(short)
