"""Energy fixtures: a site with known factors, and finished jobs and bookings to account."""

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import User
from booking.models import (
    BookingState,
    CapacityBooking,
    GpuEnergyFactors,
    GpuType,
    Job,
    JobState,
    Project,
    ProjectMember,
    ProjectRole,
    SiteEnergyFactors,
)
from tests.factories import GpuTypeFactory, ProjectFactory


def site_factors(effective_from: date, **values: Any) -> SiteEnergyFactors:
    fields = {
        "pue": Decimal("1.2"),
        "renewable_share": Decimal("0.9"),
        "renewable_gco2_per_kwh": Decimal(10),
        "residual_gco2_per_kwh": Decimal(300),
        "heat_reuse_share": Decimal("0.5"),
        "heat_reuse_efficiency": Decimal("0.8"),
        "comparison_gco2_per_kwh": Decimal(250),
        **values,
    }
    return SiteEnergyFactors.objects.create(effective_from=effective_from, **fields)


@pytest.fixture
def h100(db: None) -> GpuType:
    """H100: 700 W at full use, 100 W idle, 800 W node overhead (100 W per GPU of 8)."""
    gpu_type = GpuTypeFactory(name="H100", power_watts=700)
    GpuEnergyFactors.objects.create(
        gpu_type=gpu_type,
        effective_from=date(2026, 1, 1),
        full_power_watts=700,
        idle_power_watts=100,
        node_overhead_watts=800,
    )
    return gpu_type


@pytest.fixture
def site(db: None) -> SiteEnergyFactors:
    """PUE 1.2, 90 % renewable at 10 g, residual 300 g (39 g/kWh in all), half the heat
    reused at 80 %, comparison grid 250 g."""
    return site_factors(date(2026, 1, 1))


@pytest.fixture
def alice_project(alice: User) -> Project:
    project = ProjectFactory(
        name="Oslo fjord LLM", organisation=alice.memberships.get().organisation
    )
    ProjectMember.objects.create(project=project, user=alice, role=ProjectRole.PI)
    return project


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")


@pytest.fixture
def finished_job(alice: User, alice_project: Project, h100: GpuType) -> Callable[..., Job]:
    def make(start: str, hours: float, gpus: int = 4, **fields: Any) -> Job:
        started = at(start)
        seconds = int(hours * 3600)
        return Job.objects.create(
            project=fields.pop("project", alice_project),
            submitted_by=alice,
            gpu_type=fields.pop("gpu_type", h100),
            gpus=gpus,
            walltime_minutes=max(seconds // 60, 1),
            name=fields.pop("name", "train"),
            script="#!/bin/bash\ntrue\n",
            state=JobState.COMPLETED,
            admitted_at=started,
            started_at=started,
            ended_at=started + timedelta(seconds=seconds),
            runtime_seconds=seconds,
            exit_code=0,
            **fields,
        )

    return make


@pytest.fixture
def finished_booking(alice: User, alice_project: Project, h100: GpuType) -> Callable[..., Any]:
    def make(start: str, hours: int, nodes: int = 1) -> CapacityBooking:
        started = at(start)
        return CapacityBooking.objects.create(
            project=alice_project,
            gpu_type=h100,
            node_count=nodes,
            gpus_per_node=8,
            starts_at=started,
            ends_at=started + timedelta(hours=hours),
            gpu_hours=Decimal(nodes * 8 * hours),
            state=BookingState.COMPLETED,
            created_by=alice,
            charged_at=started,
        )

    return make
