"""Lists of jobs never read what the jobs run: a script may be 64 KiB, so 25 jobs on a page
would be 1.6 MB read, sent and decoded; nor the stored answer to a submit with an
Idempotency-Key. The job's own page and its API detail still show what a job runs."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from booking.models import Job, Project
from tests.fixtures.jobs import LIST_URL

pytestmark = pytest.mark.django_db

BIG_SCRIPT = "#!/bin/bash\n# sim: runtime=30m exit=0\n" + "echo step\n" * 6_000  # ~60 KiB
MARKER = "SECRET_SETTING"


def _submit_jobs(
    submit: Callable[..., Job], user: User, project: Project, n: int, first: int = 0
) -> list[Job]:
    return [
        submit(
            user,
            project,
            script=BIG_SCRIPT,
            environment={MARKER: "x" * 100},
            name=f"train-{k}",
            gpus=8,
        )
        for k in range(first, first + n)
    ]


def _reads_of(request: Callable[[], Any]) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = request()
    assert response.status_code == 200, response.content[:300]
    return response, [q["sql"] for q in queries.captured_queries]


def test_job_lists_read_no_script_command_or_environment_and_as_many_queries_for_more_jobs(
    submit, api, alice, staff, alice_project
):
    _submit_jobs(submit, alice, alice_project, 3)
    member, console, program = Client(), Client(), api(alice)
    member.force_login(alice)
    console.force_login(staff)
    requests: dict[str, Callable[[], Any]] = {
        "API job list": lambda: program.get("/api/v1/jobs/", {"project": alice_project.pk}),
        "portal job list": lambda: member.get(LIST_URL),
        "dashboard jobs section": lambda: member.get(
            reverse("jobs:job_dashboard_section"), HTTP_HX_REQUEST="true"
        ),
        "project jobs section": lambda: member.get(
            reverse("jobs:job_project_section", args=[alice_project.pk]), HTTP_HX_REQUEST="true"
        ),
        "console queue": lambda: console.get(reverse("admission_console:cluster_queue")),
    }
    first = {name: _reads_of(request) for name, request in requests.items()}
    _submit_jobs(submit, alice, alice_project, 3, first=3)
    again = {name: _reads_of(request) for name, request in requests.items()}

    for name in requests:
        response, sql = again[name]
        body = response.content.decode()
        assert "train-5" in body, name  # the newest jobs are listed
        assert "echo step" not in body, name
        assert MARKER not in body, name
        job_selects = [q for q in sql if 'FROM "booking_job"' in q or "booking_job" in q[:200]]
        assert job_selects, name
        for q in sql:
            for column in ("script", "command", "environment", "submit_response"):
                assert f'"booking_job"."{column}"' not in q, (name, q[:200])
        # No job's body is fetched one row at a time later either.
        assert len(sql) == len(first[name][1]), name


def test_the_job_page_and_the_api_detail_still_show_the_script_and_environment(
    submit, api, login, alice, alice_project
):
    (job,) = _submit_jobs(submit, alice, alice_project, 1)

    shown = api(alice).get(f"/api/v1/jobs/{job.pk}/").json()
    page = login(alice).get(reverse("jobs:job_detail", args=[job.pk])).content.decode()

    assert shown["script"] == BIG_SCRIPT
    assert shown["environment"] == {MARKER: "x" * 100}
    assert "echo step" in page
    assert MARKER in page
