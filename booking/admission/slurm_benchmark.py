"""Sending jobs to a real Slurm cluster and following them, measured.

Run ``SLURM_CONF=/path/slurm.conf python -m booking.admission.slurm_benchmark [--jobs 2000]``
against a test cluster (``make slurm-up`` starts the local one); without a reachable cluster
it says it skipped. The platform's side runs on an in-memory SQLite database.

1. **Submissions per second**: ``--jobs`` 1-GPU jobs, half through ``SlurmBackend.submit``
   (in batches of ``--batch``, as dispatch sends them: a find by name first, then one sbatch
   per job with its generated script on standard input) and half by a plain bash loop of
   ``sbatch --wrap``; the two alternate in ``--rounds`` rounds so both see the same queue.
2. **Reconcile** of every one of those jobs as admitted platform jobs (2,000 by default; they
   stay active: each sleeps an hour and 16 H100 GPUs run 16 at a time): the first
   ``jobs_reconcile`` (jobs start, reasons are written), steady ones (nothing changed), and
   one after 100 jobs ended (the only ones sacct is asked about).

Every job is cancelled and the benchmark's Slurm account closed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from typing import Any

PREFIX = "spb-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=2000, help="jobs to submit (half each way)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating submission rounds")
    parser.add_argument("--batch", type=int, default=100, help="jobs per backend submit call")
    args = parser.parse_args(argv)
    conf = os.environ.get("SLURM_CONF", "")
    token = secrets.token_hex(3)
    output = tempfile.mkdtemp(prefix="stargate-slurm-bench-")
    os.environ.update(
        DATABASE_URL="sqlite://:memory:",
        CELERY_BROKER_URL="memory://localhost/",
        ADMISSION_ON_SUBMIT="false",
        CLUSTER_BACKEND="slurm",
        SLURM_ACCOUNT_PREFIX=f"bench{token}_p",
        SLURM_PARENT_ACCOUNT=f"bench{token}",
        SLURM_JOB_NAME_PREFIX=PREFIX,
        SLURM_OUTPUT_DIR=output,
        DJANGO_SETTINGS_MODULE="stargate_portal.settings",
        LOG_LEVEL="WARNING",
    )
    os.environ.setdefault("SECRET_KEY", "slurm-benchmark-only")
    import django

    django.setup()
    from django.core.management import call_command

    if not conf or not _reachable(conf):
        print(
            "Slurm benchmark: skipped (no cluster at SLURM_CONF; start the local one with "
            "`make slurm-up`, then SLURM_CONF=/tmp/stargate-slurm/etc/slurm.conf make bench)"
        )
        return 0
    call_command("migrate", verbosity=0)
    try:
        for line in run(jobs=args.jobs, rounds=args.rounds, batch=args.batch, conf=conf):
            print(line, flush=True)
    finally:
        _clean_up(conf)
    return 0


def run(*, jobs: int, rounds: int, batch: int, conf: str) -> list[str]:
    from booking.cluster.slurm.backend import SlurmBackend

    backend = SlurmBackend()
    project = _project(backend)
    account = backend.config.submit.account(str(project.pk))
    lines = [f"Slurm benchmark: {jobs} jobs of 1 H100 GPU, account {account}"]
    per_round = max(jobs // (2 * rounds), 1)
    plain_seconds = backend_seconds = 0.0
    keys: list[str] = []
    for _round in range(rounds):
        plain_keys = [str(uuid.uuid4()) for _ in range(per_round)]
        plain_seconds += _plain_loop(plain_keys, account=account, conf=conf)
        backend_keys = [str(uuid.uuid4()) for _ in range(per_round)]
        backend_seconds += _through_backend(backend, backend_keys, project=project, batch=batch)
        keys += plain_keys + backend_keys
    sent = per_round * rounds
    plain_rate, backend_rate = sent / plain_seconds, sent / backend_seconds
    lines += [
        f"  plain sbatch loop (bash):         {sent} jobs in {plain_seconds:6.2f} s = "
        f"{plain_rate:6.1f} jobs/s",
        f"  SlurmBackend.submit (batch {batch}): {sent} jobs in {backend_seconds:6.2f} s = "
        f"{backend_rate:6.1f} jobs/s",
        f"  backend / plain: {backend_rate / plain_rate:.2f} (target >= 0.80)",
    ]
    lines += _reconcile(backend, project, keys)
    return lines


def _slurm(conf: str, program: str, *args: str) -> str:
    """An administrator's Slurm command (through the backend's safe runner)."""
    from booking.cluster.slurm.commands import SlurmCommands

    return SlurmCommands(conf=conf, timeout_seconds=60).run(program, args)


def _reachable(conf: str) -> bool:
    from booking.cluster.base import BackendUnavailable
    from booking.cluster.slurm.commands import SlurmRefused

    try:
        _slurm(conf, "scontrol", "ping")
    except (BackendUnavailable, SlurmRefused):
        return False
    return True


def _project(backend: Any) -> Any:
    from accounts.models import Organisation, OrganisationKind, User
    from booking.cluster.base import ClusterAccount
    from booking.models import GpuType, Project

    GpuType.objects.create(name="H100", memory_gb=80, power_watts=700, gpus_per_node=8)
    GpuType.objects.create(name="A100", memory_gb=80, power_watts=400, gpus_per_node=4)
    organisation = Organisation.objects.create(
        name="Benchmark", kind=OrganisationKind.UNIVERSITY, country="NO"
    )
    User.objects.create_user(email="bench@example.org", password=None)
    project = Project.objects.create(name="Slurm benchmark", organisation=organisation)
    backend.accounts_sync([ClusterAccount(project=str(project.pk), gpu_minutes={"H100": 10**9})])
    return project


def _plain_loop(keys: list[str], *, account: str, conf: str) -> float:
    loop = (
        'while read -r key; do sbatch --parsable --account="$ACCOUNT" --gres=gpu:h100:1 -t 60 '
        f'-J "{PREFIX}$key" --comment="$key" -o /dev/null --wrap="sleep 3600" >/dev/null; done'
    )
    env = {"PATH": "/usr/bin:/bin", "SLURM_CONF": conf, "ACCOUNT": account}
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - a fixed script; the keys are uuids read as data
        ["/bin/bash", "-c", loop], input="\n".join(keys) + "\n", env=env, text=True, check=True
    )
    return time.perf_counter() - started


def _through_backend(backend: Any, keys: list[str], *, project: Any, batch: int) -> float:
    from booking.cluster.base import JobSpec

    specs = [
        JobSpec(
            key=key,
            name="bench",
            account=str(project.pk),
            gpu_type="H100",
            gpus=1,
            walltime_minutes=60,
            placement=((index % 2, 1),),
            script="#!/bin/bash\nsleep 3600\n",
        )
        for index, key in enumerate(keys)
    ]
    started = time.perf_counter()
    for start in range(0, len(specs), batch):
        result = backend.submit(specs[start : start + batch])
        if result.rejected:
            raise RuntimeError(f"Slurm refused benchmark jobs: {result.rejected}")
    return time.perf_counter() - started


def _reconcile(backend: Any, project: Any, keys: list[str]) -> list[str]:
    from django.utils import timezone

    from accounts.models import User
    from booking.admission.reconcile import jobs_reconcile
    from booking.models import GpuType, Job, JobState

    found = backend.find(keys)
    now = timezone.now()
    user, gpu_type = User.objects.get(), GpuType.objects.get(name="H100")
    Job.objects.bulk_create(
        [
            Job(
                uuid=key,
                project=project,
                submitted_by=user,
                gpu_type=gpu_type,
                gpus=1,
                walltime_minutes=60,
                name="bench",
                script="#!/bin/bash\nsleep 3600\n",
                state=JobState.ADMITTED,
                backend_job_id=found[key].backend_job_id,
                placement=[[0, 1]],
                admitted_at=now,
                expected_end=now,
            )
            for key in keys
        ],
        batch_size=1000,
    )
    lines = [f"Reconcile of {len(keys)} active jobs (jobs_reconcile, 1,000 keys per poll):"]
    first = _timed(jobs_reconcile)
    lines.append(f"  first run (starts and reasons written): {first[0] * 1000:7.0f} ms {first[1]}")
    steady = [_timed(jobs_reconcile)[0] for _ in range(5)]
    lines.append(
        f"  nothing changed, median of 5:          {statistics.median(steady) * 1000:7.0f} ms"
    )
    polled = [_timed(lambda: backend.poll(keys))[0] for _ in range(5)]
    lines.append(
        f"  SlurmBackend.poll of all keys alone:    {statistics.median(polled) * 1000:7.0f} ms"
        " (one squeue)"
    )
    pending = list(Job.objects.filter(state=JobState.ADMITTED).values_list("uuid", flat=True))
    ended = [str(key) for key in pending[:100]]
    backend.cancel(ended)
    time.sleep(2)  # let the end records reach the accounting database
    changed = _timed(jobs_reconcile)
    lines.append(
        f"  after {len(ended)} jobs ended:                 {changed[0] * 1000:7.0f} ms {changed[1]}"
        " (one squeue, one sacct per chunk)"
    )
    return lines


def _timed(action: Any) -> tuple[float, dict[str, int] | None]:
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    return elapsed, result.as_dict() if hasattr(result, "as_dict") else None


def _clean_up(conf: str) -> None:
    """Cancel every job of the benchmark and drop its accounts (best effort)."""
    from booking.cluster.slurm.commands import SlurmRefused

    listed = _slurm(conf, "squeue", "-h", "-o", "%i|%j").splitlines()
    ids = [row.split("|")[0] for row in listed if row.split("|")[-1].startswith(PREFIX)]
    for start in range(0, len(ids), 500):
        with contextlib.suppress(SlurmRefused):
            _slurm(conf, "scancel", *ids[start : start + 500])
    for _ in range(60):  # Slurm keeps an account while it has jobs that are not over
        names = _slurm(conf, "squeue", "-h", "-t", "PD,R,CG", "-o", "%j").split()
        if not any(name.startswith(PREFIX) for name in names):
            break
        time.sleep(0.5)
    parent = os.environ.get("SLURM_PARENT_ACCOUNT", "")
    accounts = _slurm(conf, "sacctmgr", "-n", "-P", "show", "account", "format=Account").split()
    mine = [name for name in accounts if parent.startswith("bench") and name.startswith(parent)]
    if mine:
        with contextlib.suppress(SlurmRefused):
            _slurm(conf, "sacctmgr", "-i", "delete", "account", ",".join(mine))


if __name__ == "__main__":
    sys.exit(main())
