"""Fixtures of the job pages: the simulated site and projects of tests/jobs, logged-in clients,
and jobs moved along by the admission cycle and the simulator as tests/jobs do."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import User
from booking.jobs.services import job_submit
from booking.models import Job, Project

# The site (4 H100 nodes), the projects, the frozen clock: the same as the API tests.
from tests.jobs.conftest import (  # noqa: F401
    SCRIPT,
    alice_project,
    bob_project,
    charlie_project,
    clock,
    fresh_state,
    h100,
    sim,
)

# The signs the pages use: "4 TIMES H100", "granted MINUS held MINUS charged".
TIMES = "\N{MULTIPLICATION SIGN}"
MINUS = "\N{MINUS SIGN}"
SUBMIT_URL = reverse("jobs:job_submit")
LIST_URL = reverse("jobs:job_list")


@pytest.fixture(autouse=True)
def fresh_rate_limit_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def login(client: Client) -> Callable[[User], Client]:
    """``login(user)``: the test client with ``user`` logged in."""

    def log_in(user: User) -> Client:
        client.force_login(user)
        return client

    return log_in


def form_data(project: Project, **overrides: Any) -> dict[str, Any]:
    """What a person types into the submit form: 4 H100 GPUs for 2 hours, a batch script."""
    return {
        "project": project.pk,
        "gpu_type": "H100",
        "gpus": 4,
        "walltime": "2h",
        "name": "train",
        "script": SCRIPT,
        "container_image": "",
        "command": "",
        "environment": "EPOCHS=3",
        "idempotency_key": "portal-test-1",
    } | overrides


def queue(user: User, project: Project, **overrides: Any) -> Job:
    """A job submitted through the service (4 H100 GPUs for 2 hours unless told otherwise)."""
    fields: dict[str, Any] = {
        "gpu_type_name": "H100",
        "gpus": 4,
        "walltime_minutes": 120,
        "name": "train",
        "script": SCRIPT,
    } | overrides
    return job_submit(user=user, project=project, **fields).job


def job_url(job: Job, name: str = "job_detail") -> str:
    return reverse(f"jobs:{name}", args=[job.pk])
