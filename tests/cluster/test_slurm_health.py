"""The Slurm backend by name, and the cluster's line in /healthz: reported, but not vital (the
portal and the API keep working while Slurm is down, so a load balancer must keep them)."""

from pathlib import Path

import pytest
from django.test import Client
from pytest_django import Settings

from booking.cluster.registry import cluster_backend
from booking.cluster.slurm import backend as slurm_backend
from booking.cluster.slurm.backend import SlurmBackend


def test_the_slurm_backend_is_found_by_its_short_name(settings: Settings) -> None:
    settings.CLUSTER_BACKEND = "slurm"

    backend = cluster_backend()

    assert type(backend) is SlurmBackend
    assert backend.manages_accounts


def fake_scontrol(tmp_path: Path, settings: Settings, *, answers: bool) -> None:
    script = tmp_path / "scontrol"
    if answers:
        script.write_text("#!/bin/sh\necho 'Slurmctld(primary) at head is UP'\n")
    else:
        script.write_text("#!/bin/sh\necho 'Slurmctld(primary) at head is DOWN'\nexit 1\n")
    script.chmod(0o755)
    settings.CLUSTER_BACKEND = "slurm"
    settings.SLURM_BIN_DIR = str(tmp_path)
    slurm_backend._health_cache.clear()


@pytest.mark.django_db
def test_healthz_is_degraded_but_200_while_slurm_does_not_answer(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    fake_scontrol(tmp_path, settings, answers=False)

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "broker": "ok", "cluster": "unavailable"},
    }
    assert "DOWN" not in response.content.decode()


@pytest.mark.django_db
def test_healthz_reports_the_cluster_ok_when_slurm_answers(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    fake_scontrol(tmp_path, settings, answers=True)

    response = client.get("/healthz")

    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "cluster": "ok"},
    }
