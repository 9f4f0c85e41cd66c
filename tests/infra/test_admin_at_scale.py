"""The Django admin stays usable on a site of thousands of projects, users and ledger entries:
a foreign key to a growing table is a search box (never a <select> of every row), the audit
lists count their rows once, and a deletion that history forbids reads only the first rows of
that history."""

import json
import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection, models
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from accounts.models import Organisation, User
from booking.ledger.services import ledger_grant
from booking.models import Allocation, Application, GpuType, Project, ReviewAssignment
from stargate_portal.admin_scale import (
    INLINE_FORMS_MAX,
    PROTECTED_LISTED,
    BoundedInline,
    CountSoFarPaginator,
    IdsOnlyManyToManyMixin,
    ProtectedHistoryMixin,
    SearchedForeignKeysAdmin,
)
from tests.factories import (
    AllocationFactory,
    CallFactory,
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


@pytest.mark.parametrize("url", list(ADD_FORMS))
@pytest.mark.parametrize("value", ["2026-13-45", "x' OR 1=1 --", "9" * 40])
def test_an_add_form_posted_with_no_id_in_a_search_box_is_shown_again_with_its_errors(
    admin_client: Client, url: str, value: str
) -> None:
    """The search box looked the posted value up to show its row: a 500 for text that is
    no id. The form comes back with the field's error, and the valid id next to it is kept."""
    organisation = OrganisationFactory()
    fields = ADD_FORMS[url]
    posted = dict.fromkeys(fields, value)

    response = admin_client.post(url, posted)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Select a valid choice. That choice is not one of the available choices." in html
    for field in fields:
        assert [option for option in _options_of(html, field) if option] == []
    if "organisation" in fields:
        kept = admin_client.post(url, posted | {"organisation": str(organisation.pk)})
        assert _options_of(kept.content.decode(), "organisation") == [str(organisation.pk)]


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
            key=f"grant-{allocation.pk}-{n}",
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


def _delete_page(admin_client: Client, project: Project) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(f"/admin/booking/project/{project.pk}/delete/")
    assert response.status_code == 200
    return page_text(response), [q["sql"] for q in queries.captured_queries]


def test_a_project_with_history_is_not_deleted_and_its_history_is_read_only_so_far(
    admin_client: Client,
) -> None:
    _grants(4)
    short = Project.objects.get()
    _grants(PROTECTED_LISTED + 14)
    long = Project.objects.exclude(pk=short.pk).get()

    short_text, short_queries = _delete_page(admin_client, short)
    long_text, long_queries = _delete_page(admin_client, long)
    refused = admin_client.post(f"/admin/booking/project/{long.pk}/delete/", {"post": "yes"})

    assert "Cannot delete project" in long_text
    assert long_text.count("Ledger entry: grant") == PROTECTED_LISTED
    assert f"Ledger entries: more than {PROTECTED_LISTED}" in long_text
    assert short_text.count("Ledger entry: grant") == 4
    assert "more than" not in short_text
    # The page reads the first rows of each protecting table, however long the history is.
    assert len(long_queries) == len(short_queries)
    ledger = [sql for sql in long_queries if 'FROM "booking_ledgerentry"' in sql]
    assert ledger
    assert all(f"LIMIT {PROTECTED_LISTED + 1}" in sql for sql in ledger)
    assert refused.status_code == 200
    assert "Cannot delete project" in page_text(refused)
    assert Project.objects.filter(pk=long.pk).exists()


def test_a_row_without_history_is_still_deleted_with_what_cascades(admin_client: Client) -> None:
    organisation = OrganisationFactory()
    member = UserFactory()
    organisation.memberships.create(user=member, role="member")

    page = admin_client.get(f"/admin/accounts/organisation/{organisation.pk}/delete/")
    deleted = admin_client.post(
        f"/admin/accounts/organisation/{organisation.pk}/delete/", {"post": "yes"}
    )

    assert "Are you sure" in page_text(page)
    assert "Membership" in page_text(page)  # what goes with it, as Django lists it
    assert deleted.status_code == 302
    assert not Organisation.objects.filter(pk=organisation.pk).exists()


def test_every_admin_of_a_model_that_history_protects_refuses_by_a_bounded_look() -> None:
    request = RequestFactory().get("/admin/")
    request.user = User(is_superuser=True, is_staff=True, is_active=True)
    protected = {
        model
        for model, model_admin in admin.site._registry.items()
        if model_admin.has_delete_permission(request)
        and any(
            relation.on_delete in (models.PROTECT, models.RESTRICT)
            for relation in model._meta.related_objects
        )
    }

    assert {Project, User, GpuType, Organisation} <= protected  # the read-only admins never delete
    assert [
        model.__name__
        for model in protected
        if not isinstance(admin.site._registry[model], ProtectedHistoryMixin)
    ] == []


@pytest.mark.parametrize("url", ["/admin/booking/call/add/", "/admin/accounts/organisation/add/"])
@pytest.mark.parametrize("count", ["9" * 40, "51"])
def test_an_inline_builds_no_more_forms_than_it_may_hold(
    admin_client: Client, url: str, count: str
) -> None:
    """Django builds as many inline forms as the posted management form counts, up to its
    limit plus 1,000: a count of 40 digits made 2,000 forms (2.8 s for one request)."""
    page = admin_client.get(url).content.decode()
    total = re.search(r'name="([\w-]+)-TOTAL_FORMS"', page)
    assert total is not None
    prefix = total.group(1)

    response = admin_client.post(
        url, {f"{prefix}-TOTAL_FORMS": count, f"{prefix}-INITIAL_FORMS": "0"}
    )

    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    assert len(inline.formset.forms) <= INLINE_FORMS_MAX
    assert f"Please submit at most {INLINE_FORMS_MAX} forms." in page_text(response)


def test_every_inline_and_search_box_of_the_admin_is_a_bounded_one() -> None:
    """A new inline or search box gets the bounds above by being of these classes."""
    inlines = [
        inline for model_admin in admin.site._registry.values() for inline in model_admin.inlines
    ]
    searching = [
        model_admin
        for model_admin in admin.site._registry.values()
        if model_admin.autocomplete_fields
    ]

    assert len(inlines) >= 2
    assert [inline.__name__ for inline in inlines if not issubclass(inline, BoundedInline)] == []
    assert len(searching) >= 10
    assert [
        type(model_admin).__name__
        for model_admin in searching
        if not isinstance(model_admin, SearchedForeignKeysAdmin)
    ] == []


@pytest.mark.parametrize("value", ["9" * 40, "-1", "1.5", "²"])
def test_a_group_that_is_no_id_is_a_form_error(admin_client: Client, value: str) -> None:
    """SQLite cannot bind a number past 64 bits: a user's groups posted as 40 digits were a 500
    there (PostgreSQL only finds no such group)."""
    user = UserFactory.create(email="someone@example.org")

    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {"email": user.email, "full_name": "Someone", "is_active": "on", "groups": [value]},
    )

    assert response.status_code == 200
    assert f"“{value}” is not a valid value." in page_text(response)
    assert not user.groups.exists()


def test_every_admin_with_many_to_many_choices_refuses_values_that_are_no_ids() -> None:
    choosing = [
        model_admin
        for model, model_admin in admin.site._registry.items()
        if any(field.many_to_many and field.editable for field in model._meta.get_fields())
    ]

    assert {type(model_admin).__name__ for model_admin in choosing} >= {"UserAdmin", "GroupAdmin"}
    assert [
        type(model_admin).__name__
        for model_admin in choosing
        if not isinstance(model_admin, IdsOnlyManyToManyMixin)
    ] == []


LONG_CHOICES = 50
"""More choices than this make a listed field costly: the admin flattens them for each row."""


def test_no_admin_list_shows_a_field_of_long_choices_as_the_field_itself() -> None:
    """The admin shows a field with choices by flattening all of them for every row shown:
    a country (250 choices) cost 1.4 ms a row, 140 ms of a page of 100 organisations."""
    listed = [
        f"{model.__name__}.{name}"
        for model, model_admin in admin.site._registry.items()
        for name in model_admin.list_display
        if isinstance(name, str)
        and name in {field.name for field in model._meta.fields}
        and len(model._meta.get_field(name).flatchoices) > LONG_CHOICES
    ]

    assert listed == []


def test_the_organisation_list_names_each_country_and_sorts_by_it(admin_client: Client) -> None:
    OrganisationFactory(name="Fjord Institute", country="NO")
    OrganisationFactory(name="Rhein Lab", country="DE")

    response = admin_client.get("/admin/accounts/organisation/?o=3")  # the country column

    text = page_text(response)
    assert response.status_code == 200
    assert "Norway" in text
    assert "Germany" in text
    assert text.index("Rhein Lab") < text.index("Fjord Institute")  # DE before NO


def test_the_review_assignment_list_counts_so_far_and_reads_the_newest_by_key(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CountSoFarPaginator, "count_max", 5)
    assignments = _assignments(8)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/booking/reviewassignment/", {"o": "3"})
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    listed = [q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"]]

    assert response.status_code == 200
    assert len(counts) == 1
    assert "LIMIT 6" in counts[0]
    assert "more than 5 review assignments" in page_text(response)
    shown = [a.pk for a in response.context["cl"].result_list]
    assert shown == sorted((a.pk for a in assignments), reverse=True)
    assert any('ORDER BY "booking_reviewassignment"."id" DESC' in sql for sql in listed)


def _assignments(count: int) -> list[ReviewAssignment]:
    call = CallFactory()
    organisation = OrganisationFactory()
    applicant = UserFactory()
    made = []
    for n in range(count):
        application = Application.objects.create(
            call=call, applicant=applicant, organisation=organisation, title=f"Application {n}"
        )
        made.append(ReviewAssignment.objects.create(application=application, reviewer=applicant))
    return made
