"""Fixtures of the grant pages: logged-in clients, an open call, a reviewer, an award."""

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts.models import MembershipRole, Organisation, User
from booking.grants.services.applications import application_submit
from booking.grants.services.decisions import application_award
from booking.grants.services.reviews import reviewer_assign
from booking.models import REVIEWERS_GROUP, Application, Call, Project, ReviewAssignment
from tests.factories import CallFactory, GpuTypeFactory, MembershipFactory, UserFactory
from tests.grants.conftest import draft_for


@pytest.fixture(autouse=True)
def fresh_rate_limit_cache() -> Iterator[None]:
    """allauth's rate limits count in the cache; start every test clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def media_in_tmp(settings: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Attachments go to a temporary folder, never to var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]


@pytest.fixture
def login(client: Client) -> Callable[[User], Client]:
    """``login(user)``: the test client with ``user`` logged in."""

    def log_in(user: User) -> Client:
        client.force_login(user)
        return client

    return log_in


@pytest.fixture
def dave(alice_org: Organisation) -> User:
    """A plain member of alice's University of Oslo (not of her projects)."""
    user = UserFactory(email="dave@uio.no")
    MembershipFactory(user=user, organisation=alice_org, role=MembershipRole.MEMBER)
    return user


@pytest.fixture
def call(db: None) -> Call:
    """An open call for tiers 1-3: H100 (700 W) and H200 (1000 W), 10,000 GPU-hours cap."""
    GpuTypeFactory(name="H200", memory_gb=141, power_watts=1000)
    GpuTypeFactory(name="GB200", memory_gb=192, power_watts=1200)  # exists, not offered
    return CallFactory(title="AI Factory call 2027", pools={"H100": 50_000, "H200": 20_000})


@pytest.fixture
def reviewer(db: None) -> User:
    user = UserFactory(email="rita@kth.se")
    user.groups.add(Group.objects.get_or_create(name=REVIEWERS_GROUP)[0])
    return user


@pytest.fixture
def draft(alice: User, call: Call) -> Application:
    return draft_for(alice, call)


@pytest.fixture
def submitted(alice: User, draft: Application) -> Application:
    return application_submit(application=draft, user=alice)


@pytest.fixture
def assignment(submitted: Application, reviewer: User, staff: User) -> ReviewAssignment:
    return reviewer_assign(application=submitted, reviewer=reviewer, staff=staff)


@pytest.fixture
def project(assignment: ReviewAssignment, staff: User) -> Project:
    """alice's NorLLM, awarded 4,000 H100 GPU-hours; alice is its PI."""
    award = application_award(
        application=assignment.application,
        staff=staff,
        gpu_hours={"H100": Decimal(4000)},
        reason="Excellent and feasible.",
        starts_on=timezone.localdate() - timedelta(days=30),
        ends_on=timezone.localdate() + timedelta(days=335),
    )
    return award.project
