"""Property-based fuzzing of the whole ``/api/v1/`` schema with schemathesis.

Every operation of the OpenAPI schema gets generated requests, valid ones and invalid ones
(wrong types, missing fields, out-of-range numbers, odd strings), sent once as a plain user
(alice, who has a project, an application and a job) and once as staff. Two properties must
hold for every answer: no 5xx, and every error has the documented shape
``{"code", "message", "details"}``.

Bounded and deterministic: ``FUZZ_EXAMPLES`` examples per operation (default 10, about a minute
on the CI machine), Hypothesis derandomised (a fixed seed per operation), no example database.
``make fuzz`` runs a larger campaign (``FUZZ_EXAMPLES=200`` and the coverage phase).
"""

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from pytest_django import Settings
from schemathesis.checks import not_a_server_error

from accounts.models import User
from accounts.services.tokens import api_token_create
from booking.models import Application, Job, Project

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
# The coverage phase sends every boundary case the schema defines (the longest allowed string
# and one more character, each enum value and a wrong one …): thorough and slow, so only in the
# larger campaign (`make fuzz`).
FUZZ_COVERAGE = os.environ.get("FUZZ_COVERAGE", "") == "1"


def fuzzed_api() -> Any:
    """The API's own OpenAPI schema (generated without a request or the database), called
    in-process through the WSGI application: one test per operation."""
    raw = SchemaGenerator().get_schema(request=None, public=True)
    document = json.loads(json.dumps(raw, default=str))  # plain JSON types only
    document["paths"] = {p: v for p, v in document["paths"].items() if p.startswith("/api/v1/")}
    schema = schemathesis.openapi.from_dict(document)
    schema.app = get_wsgi_application()
    schema.config.phases.coverage.enabled = FUZZ_COVERAGE
    return schema


api_schema = fuzzed_api()


@pytest.fixture
def tokens(
    alice: User,
    staff: User,
    project: Project,
    draft: Application,
    job_of_alice: Job,
    settings: Settings,
    connections_kept_open: None,
) -> dict[str, str]:
    settings.ALLOWED_HOSTS = ["localhost"]  # schemathesis calls the application as localhost
    return {
        persona: api_token_create(user=user, name="fuzz")[1]
        for persona, user in (("alice", alice), ("staff", staff))
    }


@pytest.fixture
def connections_kept_open() -> Iterator[None]:
    """Django closes the database connection after each WSGI request; inside a test that would
    close the test's transaction. Its test client does this too."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def job_of_alice(alice: User, project: Project) -> Job:
    from tests.fixtures.jobs import queue

    return queue(alice, project, gpus=1, walltime_minutes=30)


@schemathesis.check
def error_has_the_documented_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """An answer of 400 or above is ``{"code": str, "message": str, "details": object}``."""
    if response.status_code < 400:
        return None
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "details"}, body
    assert isinstance(body["code"], str)
    assert body["code"]
    assert isinstance(body["message"], str)
    assert isinstance(body["details"], dict)
    return None


@pytest.mark.postgres
@api_schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error_or_an_error_outside_the_documented_shape(
    case: Any, tokens: dict[str, str]
) -> None:
    for token in tokens.values():
        cache.clear()  # the API's throttles count in the cache; fuzzing is not abuse
        case.call_and_validate(
            headers={"Authorization": f"Token {token}"},
            checks=[not_a_server_error, error_has_the_documented_shape],
        )
