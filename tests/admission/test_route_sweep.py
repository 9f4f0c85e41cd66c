"""The load benchmark's sweep: every GET route of the site, filled with rows of a real (demo)
site and asked by the right kind of user, answers without a server error, with hostile query
strings too."""

import re
from http.cookies import SimpleCookie
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.http import HttpResponse
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Membership, User
from accounts.services.tokens import api_token_create
from booking.admission.form_sweep import (
    HOSTILE_FORM_VALUES,
    HOSTILE_QUERY_VALUES,
    forms_of_pages,
    hostile_queries,
)
from booking.admission.route_sweep import sweep_routes, sweep_rows
from booking.models import Job, JobState

pytestmark = pytest.mark.django_db


def _demo_site() -> tuple[Job, dict[str, Client | APIClient]]:
    """The demo site with a few waiting jobs: one of them, and a client for each kind of
    user the sweep names (a member of the job's project, staff, and a token of each)."""
    call_command("seed_demo", stdout=StringIO())
    call_command("demo_site", stdout=StringIO())
    call_command("demo_workload", "--jobs", "12", "--seed", "3", stdout=StringIO())
    job = Job.objects.filter(state=JobState.PENDING).select_related("project").first()
    assert job is not None
    member = job.submitted_by
    assert Membership.objects.filter(user=member, organisation=job.project.organisation).exists()
    staff = User.objects.create(email="sweep-staff@example.org", is_staff=True, is_superuser=True)
    clients: dict[str, Client | APIClient] = {"member": Client(), "staff": Client()}
    clients["member"].force_login(member)
    clients["staff"].force_login(staff)
    for who, user in (("token", member), ("staff_token", staff)):
        _, token = api_token_create(user=user, name="sweep", expires_in_days=1)
        clients[who] = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    return job, clients


def test_every_swept_route_of_the_demo_site_answers_without_a_server_error() -> None:
    job, clients = _demo_site()

    routes = sweep_routes(sweep_rows(job.project, job))
    answers = {r.path: clients[r.who].get(r.path).status_code for r in routes}

    # The pages the load benchmark drives are in the sweep, with this site's rows in them.
    for path in (
        f"/jobs/{job.pk}/",
        f"/api/v1/jobs/{job.pk}/",
        f"/projects/{job.project_id}/ledger/",
        f"/console/grants/projects/{job.project_id}/",
        f"/api/v1/staff/projects/{job.project_id}/audit/",
        "/console/cluster/queue/",
        "/admin/booking/allocation/add/",
        f"/admin/booking/project/{job.project_id}/delete/",
        f"/admin/accounts/user/{job.submitted_by_id}/delete/",
        f"/admin/booking/gputype/{job.gpu_type_id}/change/",
    ):
        assert answers[path] == 200, path
    assert len(routes) > 150
    assert {path for path, status in answers.items() if status >= 500} == set()
    # Most of them are pages of these rows, not refusals.
    assert sum(200 <= status < 300 for status in answers.values()) > 0.7 * len(answers)
    # A parameter no row fills leaves its route out instead of guessing.
    assert not any("<" in r.path or "(" in r.path for r in routes)
    assert not any(r.path.startswith(("/admin/logout", "/healthz")) for r in routes)


@pytest.mark.parametrize(
    "value", list(HOSTILE_QUERY_VALUES.values()), ids=list(HOSTILE_QUERY_VALUES)
)
def test_no_swept_route_fails_on_a_hostile_query_string(value: str) -> None:
    job, clients = _demo_site()
    for client in clients.values():
        client.raise_request_exception = False
    every, filters = hostile_queries(value)
    routes = sweep_routes(sweep_rows(job.project, job))

    answers = {r.path: clients[r.who].get(r.path, every).status_code for r in routes}
    filtered = {r.path: clients[r.who].get(r.path, filters).status_code for r in routes}

    assert {path: status for path, status in answers.items() if status >= 500} == {}
    assert {path: status for path, status in filtered.items() if status >= 500} == {}
    # Without the list controls, the API's lists read the value in their filters: a name no
    # GPU type has lists nothing, a state no job has is refused.
    if value == "' OR 1=1 --":
        assert clients["token"].get("/api/v1/jobs/", filters).status_code == 400  # state
        by_type = clients["token"].get("/api/v1/jobs/", {"gpu_type": value})
        assert by_type.json()["results"] == []
    if value == "\x00":  # refused before any view reads it, in the shape of its side
        assert set(answers.values()) <= {302, 400}
        api = clients["token"].get("/api/v1/jobs/", {"state": value})
        assert api.json()["code"] == "bad_request"
        assert "NUL" in clients["member"].get("/jobs/", {"state": value}).content.decode()


def _forms_of_every_page(
    clients: dict[str, Client | APIClient], job: Job
) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every form that posts on a page of the sweep, as (who, where it posts, its fields)."""
    routes = [(r.who, r.path) for r in sweep_routes(sweep_rows(job.project, job))]
    forms, _pages = forms_of_pages(lambda who, path: clients[who].get(path), routes)
    return forms


@pytest.mark.parametrize("value", list(HOSTILE_FORM_VALUES.values()), ids=list(HOSTILE_FORM_VALUES))
def test_no_form_of_any_page_fails_on_hostile_input(value: str) -> None:
    job, clients = _demo_site()
    for client in clients.values():
        client.raise_request_exception = False
    forms = _forms_of_every_page(clients, job)

    responses = {
        (who, action): clients[who].post(action, dict.fromkeys(fields, value))
        for who, action, fields in forms
    }
    answers = {form: response.status_code for form, response in responses.items()}

    assert len(forms) > 40  # the portal's, the console's and the admin's forms
    # Every form was posted by a signed-in user: none was sent to a sign-in page (a logout
    # form posted on the way would leave the forms after it unexercised).
    signed_out = {
        form
        for form, response in responses.items()
        if response.status_code == 302 and "login" in response["Location"]
    }
    assert signed_out == set()
    assert {form: status for form, status in answers.items() if status >= 500} == {}
    if value == "\x00":  # refused before any view reads it
        assert set(answers.values()) == {400}
    # Refused or shown again with errors, not taken as valid input.
    assert sum(status in (200, 302, 400, 404, 405) for status in answers.values()) == len(answers)


def test_no_swept_route_fails_on_a_nul_in_its_address_a_header_or_the_session_cookie() -> None:
    job, clients = _demo_site()
    for client in clients.values():
        client.raise_request_exception = False
    rows = sweep_rows(job.project, job)
    # The routes named by text (a GPU type, an action), with a NUL in that text.
    named = sweep_routes(rows | {"gpu_type": f"{rows['gpu_type']}%00", "action": "hold%00"})
    by_name = [r for r in named if "%00" in r.path]
    routes = sweep_routes(rows)

    in_address = {r.path: clients[r.who].get(r.path) for r in by_name}
    in_header = {r.path: clients[r.who].get(r.path, HTTP_X_TRACE="a\x00b") for r in routes}
    cookie = Client(raise_request_exception=False)
    cookie.cookies = SimpleCookie({settings.SESSION_COOKIE_NAME: "abcdefgh\x00ijklmnop"})
    signed_out = {r.path: cookie.get(r.path).status_code for r in routes}

    assert f"/console/capacity/rules/{rows['gpu_type']}%00/" in in_address
    assert {path: r.status_code for path, r in in_address.items()} == dict.fromkeys(in_address, 400)
    assert all(b"NUL" in r.content for r in in_address.values())
    assert {path: r.status_code for path, r in in_header.items()} == dict.fromkeys(in_header, 400)
    # Such a cookie is no session: every route answers as to someone signed out.
    assert {path: status for path, status in signed_out.items() if status >= 500} == {}
    assert signed_out[f"/jobs/{job.pk}/"] == 302
    assert signed_out[f"/api/v1/jobs/{job.pk}/"] == 401


def _text(response: HttpResponse) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode(errors="replace")


_TENANT_ROWS = re.compile(r"/(?:projects|jobs|applications|organisations|bookings)/\d+/")
"""A path that names a row of a tenant (its project, job, application, organisation, booking)."""


def test_no_swept_route_shows_a_tenant_s_rows_to_someone_of_another_organisation() -> None:
    job, clients = _demo_site()
    outsider = User.objects.create(email="outsider@elsewhere.example")
    _, token = api_token_create(user=outsider, name="sweep", expires_in_days=1)
    theirs: dict[str, Client | APIClient] = {
        "member": Client(),
        "token": APIClient(HTTP_AUTHORIZATION=f"Token {token}"),
    }
    theirs["member"].force_login(outsider)
    application = job.project.application
    assert application is not None
    secrets = [job.project.name, str(job.uuid), application.title]
    routes = [r for r in sweep_routes(sweep_rows(job.project, job)) if r.who in theirs]

    answers = {r.path: (clients[r.who].get(r.path), theirs[r.who].get(r.path)) for r in routes}
    bodies = {path: tuple(_text(response) for response in pair) for path, pair in answers.items()}

    named = {path: pair for path, pair in answers.items() if _TENANT_ROWS.search(path)}
    readable = {path for path, (mine, _) in named.items() if mine.status_code == 200}
    assert len(readable) > 25  # the project's, the job's, the application's, the organisation's
    # A row of another tenant is not found, never forbidden (which would say it exists).
    assert {path: answers[path][1].status_code for path in readable} == dict.fromkeys(readable, 404)
    # The lists, the queue, the dashboard and the rest: the outsider's own, none of the member's.
    leaks = {
        path: [secret for secret in secrets if secret in bodies[path][1]]
        for path, (_, other) in answers.items()
        if other.status_code == 200
    }
    assert {path: found for path, found in leaks.items() if found} == {}
    # The same words are on the member's own pages: the search above can find them.
    for secret in secrets:
        shown = [path for path, (mine, _) in bodies.items() if secret in mine]
        assert len(shown) >= 2, secret
    assert sum(other.status_code == 200 for _, other in answers.values()) > 40
