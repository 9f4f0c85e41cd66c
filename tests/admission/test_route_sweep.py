"""The load benchmark's sweep: every GET route of the site, filled with rows of a real (demo)
site and asked by the right kind of user, answers without a server error."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Membership, User
from accounts.services.tokens import api_token_create
from booking.admission.route_sweep import sweep_routes, sweep_rows
from booking.models import Job, JobState

pytestmark = pytest.mark.django_db


def test_every_swept_route_of_the_demo_site_answers_without_a_server_error() -> None:
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
    ):
        assert answers[path] == 200, path
    assert len(routes) > 150
    assert {path for path, status in answers.items() if status >= 500} == set()
    # Most of them are pages of these rows, not refusals.
    assert sum(200 <= status < 300 for status in answers.values()) > 0.7 * len(answers)
    # A parameter no row fills leaves its route out instead of guessing.
    assert not any("<" in r.path or "(" in r.path for r in routes)
    assert not any(r.path.startswith(("/admin/logout", "/healthz")) for r in routes)
