"""The demo site and workload commands: what `make run` shows moving."""

from io import StringIO

import pytest
from django.core.management import call_command

from booking.models import Job, SimulatedPartition
from tests.fixtures.jobs import cycle, reconcile

pytestmark = pytest.mark.django_db


def test_the_demo_site_and_workload_put_jobs_on_the_simulated_cluster() -> None:
    call_command("seed_demo", stdout=StringIO())
    call_command("demo_site", "--nodes", "H100=40", "H200=20", stdout=StringIO())
    call_command("demo_site", stdout=StringIO(), nodes=["H100=40", "H200=20"])  # idempotent

    out = StringIO()
    call_command("demo_workload", "--jobs", "30", "--seed", "7", stdout=out, stderr=StringIO())

    assert "submitted 30 jobs" in out.getvalue()
    assert dict(SimulatedPartition.objects.values_list("gpu_type__name", "nodes")) == {
        "H100": 40,
        "H200": 20,
    }
    assert Job.objects.filter(state="pending").count() == 30
    assert cycle().admitted
    reconcile()
    assert Job.objects.filter(state="running").exists()
    assert Job.objects.values("project").distinct().count() == 3
