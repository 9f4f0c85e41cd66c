"""Shared fixtures: the personas alice, bob, charlie, dave and staff, API and logged-in clients,
and a clean cache and media folder around every test.

The fixtures of one feature live in ``tests/fixtures/`` and are registered here once, for every
folder: the simulated site and its jobs (``jobs``), calls and applications (``grants``). Import
only their plain helpers (``project_for``, ``draft_for``, ``cycle``…), never a fixture.

Real services: a test marked ``postgres``, ``redis``, ``browser`` or ``slurm`` fails (never
skips) under ``CI=true`` when the service is missing, and skips with a reason elsewhere. The
local Slurm cluster is started once per session for the ``slurm`` tests (``fixtures/slurm.py``).
"""

import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone
from pytest_django import Settings
from rest_framework.test import APIClient

from accounts.models import MembershipRole, Organisation, OrganisationKind, User
from booking.admission.receivers import admission_request_forget
from stargate_portal.cache import OUTAGE as CACHE_OUTAGE
from stargate_portal.database_errors import DATABASE_OUTAGE
from stargate_portal.task_enqueue import enqueue_failures_reset
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

pytest_plugins = [
    "tests.fixtures.jobs",
    "tests.fixtures.grants",
    "tests.fixtures.slurm",
    "tests.fixtures.capacity",
    "tests.fixtures.energy",
    "tests.fixtures.redis",
]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_service(available: bool, why: str) -> None:
    """Fail under CI, skip elsewhere, when a real service a test needs is missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"required service missing under CI: {why}")
    pytest.skip(why)


@pytest.fixture
def postgres(db: None) -> None:
    """Use in tests that need PostgreSQL (locking, constraints, concurrency)."""
    require_service(connection.vendor == "postgresql", "needs DATABASE_URL=postgres://…")


DATABASE_FIXTURES = ("db", "transactional_db", "live_server")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A marker brings the fixture that checks for its service (slurm: starts the cluster).
    for item in items:
        for marker in ("postgres", "slurm"):
            if item.get_closest_marker(marker) and marker not in getattr(item, "fixturenames", ()):
                item.fixturenames.append(marker)  # type: ignore[attr-defined]
        # pytest-django makes the test database only for the tests that name a database
        # fixture or carry ``django_db`` when collected: the ``postgres`` fixture's own ``db``
        # comes too late, and a run of such tests alone ran on the development database.
        if (
            item.get_closest_marker("postgres")
            and not item.get_closest_marker("django_db")
            and not set(DATABASE_FIXTURES) & set(getattr(item, "fixturenames", ()))
        ):
            item.fixturenames.append("db")  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """allauth's rate limits, the API throttles and the job debounces count in the cache, and
    user ids repeat between tests: every test starts and ends with it empty (and with no
    cycle request remembered by the process, nor a failure of the shared cache's Redis or of
    a connection attempt to the database)."""
    CACHE_OUTAGE.forget()
    DATABASE_OUTAGE.forget()
    cache.clear()
    admission_request_forget()
    yield
    CACHE_OUTAGE.forget()
    cache.clear()


@pytest.fixture(autouse=True)
def fresh_enqueue_failures() -> None:
    """The count of tasks that could not be queued is per process: each test starts at 0."""
    enqueue_failures_reset()


@pytest.fixture(autouse=True)
def media_in_tmp(settings: Settings, tmp_path: Path) -> None:
    """Attachments go to a temporary folder, never to var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def alice_org(db: None) -> Organisation:
    return OrganisationFactory(
        name="University of Oslo",
        kind=OrganisationKind.UNIVERSITY,
        country="NO",
        registration_number="971035854",
        founded_on=date(1811, 9, 2),
        domains=["uio.no"],
    )


@pytest.fixture
def bob_org(db: None) -> Organisation:
    return OrganisationFactory(
        name="Fjord AI AS",
        kind=OrganisationKind.STARTUP,
        country="NO",
        registration_number="923609016",
        founded_on=timezone.localdate() - relativedelta(years=2),
        domains=["fjordai.no"],
    )


@pytest.fixture
def charlie_org(db: None) -> Organisation:
    return OrganisationFactory(
        name="Acme Compute Inc",
        kind=OrganisationKind.COMPANY,
        country="US",
        founded_on=date(2001, 5, 1),
        domains=["acme.example"],
    )


def _owner(email: str, organisation: Organisation) -> User:
    user = UserFactory(email=email)
    MembershipFactory(user=user, organisation=organisation, role=MembershipRole.OWNER)
    return user


@pytest.fixture
def alice(alice_org: Organisation) -> User:
    """European academic (tier 1), owner of the University of Oslo."""
    return _owner("alice@uio.no", alice_org)


@pytest.fixture
def bob(bob_org: Organisation) -> User:
    """European startup founder (tier 2), owner of Fjord AI AS."""
    return _owner("bob@fjordai.no", bob_org)


@pytest.fixture
def charlie(charlie_org: Organisation) -> User:
    """Another tenant (tier 4, US company): must never see alice's or bob's data."""
    return _owner("charlie@acme.example", charlie_org)


@pytest.fixture
def dave(alice_org: Organisation) -> User:
    """A plain member (not owner or admin) of alice's University of Oslo, and of none of her
    projects."""
    user = UserFactory(email="dave@uio.no")
    MembershipFactory(user=user, organisation=alice_org, role=MembershipRole.MEMBER)
    return user


@pytest.fixture
def staff(db: None) -> User:
    return UserFactory(email="staff@stargate.eu", is_staff=True)


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    """``api(user)``: an API client authenticated as ``user`` (``api(None)``: anonymous)."""

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def login(client: Client) -> Callable[[User], Client]:
    """``login(user)``: the test client with ``user`` logged in."""

    def log_in(user: User) -> Client:
        client.force_login(user)
        return client

    return log_in
