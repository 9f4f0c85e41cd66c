"""Two real Celery workers on Redis race admission cycles over 200 jobs on PostgreSQL.

One worker is killed (SIGKILL) half-way: nothing is lost, nothing is admitted or sent twice,
the ledger holds match the admitted jobs, no balance goes negative, and no node ever runs more
GPUs than it has.
"""

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.test import override_settings

from accounts.models import User
from booking.admission.tasks import admission_cycle_run, jobs_reconcile
from booking.cluster.simulator.backend import SimulatorBackend
from booking.jobs.services import job_submit
from booking.ledger.selectors import balance_of
from booking.models import (
    FINAL_STATES,
    Job,
    JobEvent,
    LedgerEntry,
    Project,
    SimulatedJob,
)
from stargate_portal.celery import app as celery_app
from tests.factories import GpuTypeFactory, OrganisationFactory, UserFactory
from tests.fixtures.jobs import project_for
from tests.infra.test_celery_redis import _redis_reachable

ROOT = Path(__file__).resolve().parents[2]
JOBS = 200
NODES = 8


def _database_url() -> str:
    db = connection.settings_dict
    user, host, port = db["USER"] or "postgres", db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def queue(tmp_path: Path) -> str:
    url = settings.CELERY_BROKER_URL
    from tests.conftest import require_service

    require_service(
        url.startswith("redis://") and _redis_reachable(url),
        "needs CELERY_BROKER_URL=redis://… pointing at a running Redis",
    )
    return f"jobs-race-{os.getpid()}-{time.monotonic_ns()}"


@pytest.fixture
def start_worker(queue: str, tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "stargate_portal.settings",
        "SECRET_KEY": "worker-test-secret",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DATABASE_URL": _database_url(),
        "ADMISSION_ON_SUBMIT": "false",
        "LOG_LEVEL": "WARNING",
    }

    def start(name: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "stargate_portal",
                "worker",
                "--pool=solo",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "-Q",
                queue,
                f"--hostname={name}@{queue}",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        _wait(lambda: bool(celery_app.control.ping([f"{name}@{queue}"], timeout=0.5)), name)
        return process

    celery_app.conf.task_always_eager = False
    try:
        yield start
    finally:
        celery_app.conf.task_always_eager = True
        for process in started:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)


def _wait(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)  # a real process: there is no clock to move
    pytest.fail(f"timed out waiting for: {what}")


def _site() -> list[tuple[User, Project]]:
    gpu_type = GpuTypeFactory.create(name="H100")
    SimulatorBackend().set_partition(gpu_type, nodes=NODES)
    facts = [
        ("NO", "university"),
        ("DE", "startup"),
        ("FR", "company"),
        ("US", "company"),
        ("SE", "research_institute"),
    ]
    members = []
    for index, (country, kind) in enumerate(facts):
        organisation = OrganisationFactory.create(
            country=country, kind=kind, founded_on=date(2024, 1, 1)
        )
        user = UserFactory.create()
        members.append(
            (user, project_for(user, organisation, gpu_type, gpu_hours=30, name=f"race-{index}"))
        )
    return members


def _submit_all(members: list[tuple[User, Project]]) -> None:
    for n in range(JOBS):
        user, project = members[n % len(members)]
        job_submit(
            user=user,
            project=project,
            gpu_type_name="H100",
            gpus=(1, 2, 4, 8)[n % 4],
            walltime_minutes=(30, 60, 90, 120)[(n // 4) % 4],
            name=f"race-{n}",
            script="#!/bin/sh\n# sim: runtime=1s\n",
        )


def _finished() -> int:
    return Job.objects.filter(state__in=FINAL_STATES).count()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@override_settings(ADMISSION_ON_SUBMIT=False)
def test_two_workers_racing_cycles_admit_each_job_once_and_never_overdraw(
    queue: str, start_worker: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    members = _site()
    _submit_all(members)
    first = start_worker("w1")
    start_worker("w2")
    killed = False
    deadline = time.monotonic() + 180
    while _finished() < JOBS and time.monotonic() < deadline:
        for _ in range(3):
            admission_cycle_run.apply_async(queue=queue)
        jobs_reconcile.apply_async(queue=queue)
        if not killed and _finished() >= JOBS // 3:
            first.send_signal(signal.SIGKILL)  # wherever it is: cycle, dispatch or reconcile
            killed = True
        time.sleep(0.3)

    assert killed
    assert _finished() == JOBS, Job.objects.values("state").annotate(n=Count("pk"))
    assert set(Job.objects.values_list("state", flat=True)) == {"completed"}
    _assert_admitted_and_sent_once()
    _assert_ledger_matches_admissions(members)
    _assert_no_node_ever_overbooked()


def _assert_admitted_and_sent_once() -> None:
    twice = JobEvent.objects.filter(to_state="admitted").values("job").annotate(n=Count("pk"))
    assert {row["n"] for row in twice} == {1}
    assert SimulatedJob.objects.count() == JOBS
    sent = {UUID(key) for key in SimulatedJob.objects.values_list("key", flat=True)}
    assert set(Job.objects.values_list("uuid", flat=True)) == sent


def _assert_ledger_matches_admissions(members: list[tuple[User, Project]]) -> None:
    for kind in ("hold", "release", "charge"):
        keys = set(LedgerEntry.objects.filter(kind=kind).values_list("idempotency_key", flat=True))
        assert keys == {f"job-{uuid}-{kind}" for uuid in Job.objects.values_list("uuid", flat=True)}
    for job in Job.objects.all():
        assert job.runtime_seconds is not None
        charge = LedgerEntry.objects.get(idempotency_key=f"job-{job.uuid}-charge").gpu_hours
        assert charge == (Decimal(job.gpus * job.runtime_seconds) / 3600).quantize(
            Decimal("0.0001")
        )
    gpu_type = Job.objects.first().gpu_type  # type: ignore[union-attr]
    for _user, project in members:
        balance = balance_of(project=project, gpu_type=gpu_type)
        assert balance.held == 0
        assert balance.available >= 0


def _assert_no_node_ever_overbooked() -> None:
    """Replay every job's GPUs on the simulated nodes: never more than 8 at once."""
    changes: dict[int, list[tuple[float, int, str]]] = defaultdict(list)
    for row in SimulatedJob.objects.all():
        assert row.started_at is not None
        assert row.ended_at is not None
        for node, gpus in row.placement:
            changes[node].append((row.started_at.timestamp(), gpus, row.key))
            changes[node].append((row.ended_at.timestamp(), -gpus, row.key))
    for node, events in changes.items():
        in_use, running = 0, set[str]()
        for _at, delta, key in sorted(events, key=lambda e: (e[0], e[1])):  # ends first
            in_use += delta
            running ^= {key}
            assert in_use <= 8, f"node {node} ran {in_use} GPUs: jobs {sorted(running)}"
