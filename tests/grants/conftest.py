"""Fixtures for calls, applications and reviews."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import User
from booking.grants.services.applications import application_create, application_submit
from booking.models import REVIEWERS_GROUP, Application, Call
from tests.factories import CallFactory, UserFactory

COMPLETE = {
    "abstract": "Training a Norwegian-language foundation model.",
    "case_for_support": "No Norwegian model of this size exists.",
    "gpus_per_job": 64,
    "typical_walltime_hours": 24,
    "model_description": "Decoder-only transformer, 7B parameters.",
    "model_size_billion_parameters": Decimal("7"),
    "dataset_provenance": "National Library corpus.",
    "dataset_licence": "CC-BY 4.0",
    "ai_act_risk": "gpai",
    "publish_weights": True,
}


@pytest.fixture
def call(db: None) -> Call:
    return CallFactory(pools={"H100": 50_000, "H200": 20_000})


@pytest.fixture
def reviewer(db: None) -> User:
    user = UserFactory(email="rita@kth.se")
    user.groups.add(Group.objects.get_or_create(name=REVIEWERS_GROUP)[0])
    return user


def draft_for(user: User, call: Call, **overrides: object) -> Application:
    organisation = user.memberships.first().organisation  # type: ignore[union-attr]
    today = timezone.localdate()
    fields = (
        COMPLETE
        | {
            "planned_start": today + timedelta(days=10),
            "planned_end": today + timedelta(days=190),
            "requests": {"H100": Decimal(4000)},
            "team": ["erik@uio.no"],
        }
        | overrides
    )
    return application_create(
        user=user, call=call, organisation=organisation, title="NorLLM", **fields
    )


@pytest.fixture
def submitted(alice: User, call: Call) -> Application:
    return application_submit(application=draft_for(alice, call), user=alice)
