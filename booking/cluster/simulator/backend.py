"""The simulated cluster: nodes x GPUs per type, a clock tests advance, scripted outcomes.

Its state lives in the database (``booking.models.simulator``) so every worker process sees
the same cluster. A job starts the moment it is submitted (the admission controller already
placed it) and ends after its scripted runtime, or at its walltime::

    #!/bin/bash
    # sim: runtime=30m exit=0

``runtime`` takes s, m or h (``1h30m`` too); without the line a job runs its whole walltime
and exits 0. A runtime above the walltime ends in ``timeout``; a non-zero exit in ``failed``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from booking.cluster.base import (
    BackendJob,
    BackendState,
    Changes,
    ClusterBackend,
    GpuTypeNodes,
    JobSpec,
    SubmitResult,
)
from booking.models import (
    GpuType,
    SimulatedClock,
    SimulatedJob,
    SimulatedJobState,
    SimulatedPartition,
    SimulatedReservation,
)

_DIRECTIVE = re.compile(r"^#\s*sim:(?P<args>.*)$", re.MULTILINE)
_DURATION = re.compile(r"(?:\d+[smh])+")
_PART = re.compile(r"(\d+)([smh])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
_LIVE = (SimulatedJobState.QUEUED, SimulatedJobState.RUNNING)


Outcome = tuple[int, SimulatedJobState, int | None]


def scripted_outcome(script: str, walltime_seconds: int) -> Outcome:
    """``(runtime_seconds, final state, exit code)`` of a job from its ``# sim:`` line."""
    runtime, exit_code = walltime_seconds, 0
    match = _DIRECTIVE.search(script)
    for word in match.group("args").split() if match else ():
        name, _, value = word.partition("=")
        if name == "runtime" and _DURATION.fullmatch(value):
            runtime = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(value))
        elif name == "exit" and value.lstrip("-").isdigit():
            exit_code = int(value)
    if runtime > walltime_seconds:
        return walltime_seconds, SimulatedJobState.TIMEOUT, None
    state = SimulatedJobState.COMPLETED if exit_code == 0 else SimulatedJobState.FAILED
    return runtime, state, exit_code


class SimulatorBackend(ClusterBackend):
    """The embedded default backend (``CLUSTER_BACKEND=simulator``)."""

    name = "simulator"

    # -- clock -------------------------------------------------------------------------------

    def now(self) -> datetime:
        """Wall time plus the offset; while frozen (``freeze`` or the setting
        ``SIMULATOR_CLOCK_FROZEN``) the frozen time, so processing time never leaks in."""
        row = SimulatedClock.objects.filter(pk=1).values_list("offset_seconds", "frozen_at")
        offset, frozen_at = row.first() or (0.0, None)
        if frozen_at is not None:
            return frozen_at
        moving = timezone.now() + timedelta(seconds=offset)
        if settings.SIMULATOR_CLOCK_FROZEN:
            return self.freeze(at=moving)
        return moving

    def advance(self, delta: timedelta) -> datetime:
        """Move the simulated clock forward (tests, demos, a frozen clock's step); returns
        the new time."""
        SimulatedClock.objects.get_or_create(pk=1)
        SimulatedClock.objects.filter(pk=1).update(
            offset_seconds=F("offset_seconds") + delta.total_seconds(),
            frozen_at=F("frozen_at") + delta,
        )
        return self.now()

    def freeze(self, *, at: datetime | None = None) -> datetime:
        """Stop the clock at ``at`` (default: its current time); idempotent when frozen."""
        SimulatedClock.objects.get_or_create(pk=1)
        at = at or self.now()
        SimulatedClock.objects.filter(pk=1, frozen_at__isnull=True).update(frozen_at=at)
        frozen_at = SimulatedClock.objects.values_list("frozen_at", flat=True).get(pk=1)
        return frozen_at or at

    def unfreeze(self) -> datetime:
        """Let the clock run on from where it stands (the offset keeps the frozen time)."""
        frozen_at = SimulatedClock.objects.filter(pk=1).values_list("frozen_at", flat=True).first()
        if frozen_at is not None:
            offset = (frozen_at - timezone.now()).total_seconds()
            SimulatedClock.objects.filter(pk=1).update(offset_seconds=offset, frozen_at=None)
        return self.now()

    # -- nodes -------------------------------------------------------------------------------

    def capacity(self) -> dict[str, GpuTypeNodes]:
        rows = list(SimulatedPartition.objects.select_related("gpu_type"))
        missing = set(settings.SIMULATOR_SITE) - {row.gpu_type.name for row in rows}
        if missing and GpuType.objects.filter(name__in=missing).exists():
            self._create_partitions(missing)
            rows = list(SimulatedPartition.objects.select_related("gpu_type"))
        return {
            row.gpu_type.name: GpuTypeNodes(
                gpu_type=row.gpu_type.name,
                nodes=row.nodes,
                gpus_per_node=row.gpus_per_node,
                unavailable=frozenset(row.down_nodes),
            )
            for row in rows
        }

    def _create_partitions(self, names: Iterable[str]) -> None:
        SimulatedPartition.objects.bulk_create(
            [
                SimulatedPartition(
                    gpu_type=gpu_type,
                    nodes=settings.SIMULATOR_SITE[gpu_type.name],
                    gpus_per_node=gpu_type.gpus_per_node,
                )
                for gpu_type in GpuType.objects.filter(name__in=names)
            ],
            ignore_conflicts=True,
        )

    def set_partition(self, gpu_type: GpuType, *, nodes: int) -> None:
        """Give a GPU type ``nodes`` nodes (all up)."""
        SimulatedPartition.objects.update_or_create(
            gpu_type=gpu_type,
            defaults={"nodes": nodes, "gpus_per_node": gpu_type.gpus_per_node, "down_nodes": []},
        )

    def fail_node(self, gpu_type: str, node: int) -> list[str]:
        """Take a node down: jobs on it end in ``node_fail``. Returns their keys."""
        now = self.now()
        with transaction.atomic():
            partition = SimulatedPartition.objects.select_for_update().get(gpu_type__name=gpu_type)
            partition.down_nodes = sorted({*partition.down_nodes, node})
            partition.save(update_fields=["down_nodes"])
            live = SimulatedJob.objects.filter(gpu_type=gpu_type, state__in=_LIVE)
            hit = [job.pk for job in live.only("placement") if node in _nodes_of(job.placement)]
            keys = list(SimulatedJob.objects.filter(pk__in=hit).values_list("key", flat=True))
            _change(
                SimulatedJob.objects.filter(pk__in=hit),
                state=SimulatedJobState.NODE_FAIL,
                ended_at=now,
                exit_code=None,
            )
        return keys

    def restore_node(self, gpu_type: str, node: int) -> None:
        with transaction.atomic():
            partition = SimulatedPartition.objects.select_for_update().get(gpu_type__name=gpu_type)
            partition.down_nodes = [n for n in partition.down_nodes if n != node]
            partition.save(update_fields=["down_nodes"])

    # -- jobs --------------------------------------------------------------------------------

    def submit(self, specs: Sequence[JobSpec]) -> SubmitResult:
        now = self.now()
        nodes = self.capacity()
        rejected: dict[str, str] = {}
        rows = []
        for spec in specs:
            problem = _placement_problem(spec, nodes.get(spec.gpu_type))
            if problem is not None:
                rejected[spec.key] = problem
                continue
            rows.append(self._row(spec, now, nodes[spec.gpu_type].unavailable))
        # The key is unique: a job submitted before (a retry after a crash) is not duplicated.
        with transaction.atomic():
            change = _next_change()
            for row in rows:
                row.change = change
            SimulatedJob.objects.bulk_create(rows, ignore_conflicts=True)
        known = SimulatedJob.objects.filter(key__in=[row.key for row in rows])
        accepted = {key: str(pk) for key, pk in known.values_list("key", "pk")}
        return SubmitResult(accepted=accepted, rejected=rejected)

    def _row(self, spec: JobSpec, now: datetime, down: frozenset[int]) -> SimulatedJob:
        walltime = spec.walltime_minutes * 60
        runtime, outcome, exit_code = scripted_outcome(spec.script, walltime)
        on_down_node = any(node in down for node, _gpus in spec.placement)
        if on_down_node:
            runtime, outcome, exit_code = 0, SimulatedJobState.NODE_FAIL, None
        return SimulatedJob(
            key=spec.key,
            name=spec.name[:200],
            account=spec.account,
            gpu_type=spec.gpu_type,
            gpus=spec.gpus,
            placement=[list(pair) for pair in spec.placement],
            walltime_seconds=walltime,
            runtime_seconds=runtime,
            outcome=outcome,
            exit_code=exit_code,
            state=SimulatedJobState.NODE_FAIL if on_down_node else SimulatedJobState.RUNNING,
            submitted_at=now,
            started_at=now,
            ends_at=now + timedelta(seconds=runtime),
            ended_at=now if on_down_node else None,
        )

    def find(self, keys: Collection[str]) -> dict[str, BackendJob]:
        found: dict[str, BackendJob] = {}
        keys = list(keys)
        for start in range(0, len(keys), 1000):
            rows = SimulatedJob.objects.filter(key__in=keys[start : start + 1000])
            found.update((row.key, _backend_job(row)) for row in rows)
        return found

    def poll(self, keys: Collection[str]) -> dict[str, BackendJob]:
        self.tick()
        return self.find(keys)

    def tick(self) -> int:
        """End the jobs whose runtime is over at the current simulated time."""
        due = SimulatedJob.objects.filter(state=SimulatedJobState.RUNNING, ends_at__lte=self.now())
        if not due.exists():
            return 0
        return _change(due, state=F("outcome"), ended_at=F("ends_at"))

    def cancel(self, keys: Collection[str]) -> None:
        live = SimulatedJob.objects.filter(key__in=list(keys), state__in=_LIVE)
        _change(live, state=SimulatedJobState.CANCELLED, ended_at=self.now(), exit_code=None)

    def changes_all(self, active_keys: Callable[[], Collection[str]]) -> Changes:
        """Every active job, and the change counter read before them as the cursor."""
        self.tick()
        counter = SimulatedClock.objects.filter(pk=1).values_list("changes", flat=True).first()
        return Changes(self.find(active_keys()), cursor=str(counter or 0), complete=True)

    def changes_since(self, cursor: str, active_keys: Callable[[], Collection[str]]) -> Changes:
        """Only the jobs changed after ``cursor`` (the change counter), never every job."""
        if not cursor.isdigit():
            return self.changes_all(active_keys)
        self.tick()
        rows = list(SimulatedJob.objects.filter(change__gt=int(cursor)))
        latest = max((row.change for row in rows), default=int(cursor))
        jobs = {row.key: _backend_job(row) for row in rows}
        return Changes(jobs, cursor=str(latest), complete=False)

    # -- reservations ------------------------------------------------------------------------

    def create_reservation(
        self,
        *,
        name: str,
        account: str,
        gpu_type: str,
        nodes: int,
        starts_at: datetime,
        ends_at: datetime,
    ) -> tuple[int, ...]:
        partition = self.capacity()[gpu_type]
        overlapping = SimulatedReservation.objects.filter(
            gpu_type=gpu_type, starts_at__lt=ends_at, ends_at__gt=starts_at
        )
        taken = {node for row in overlapping for node in row.node_indices}
        free = [
            node
            for node in reversed(range(partition.nodes))
            if node not in taken and node not in partition.unavailable
        ]
        if len(free) < nodes:
            raise ValueError(f"only {len(free)} nodes of {gpu_type} can be reserved")
        chosen = tuple(sorted(free[:nodes]))
        SimulatedReservation.objects.create(
            name=name,
            account=account,
            gpu_type=gpu_type,
            node_indices=list(chosen),
            starts_at=starts_at,
            ends_at=ends_at,
        )
        return chosen

    def delete_reservation(self, name: str) -> None:
        SimulatedReservation.objects.filter(name=name).delete()


def _next_change() -> int:
    """The next value of the change counter. Call inside a transaction: the clock's row stays
    locked until the commit, so changes commit in counter order and a reader's cursor never
    passes a change still to commit."""
    SimulatedClock.objects.get_or_create(pk=1)
    SimulatedClock.objects.filter(pk=1).update(changes=F("changes") + 1)
    return SimulatedClock.objects.values_list("changes", flat=True).get(pk=1)


def _change(jobs: QuerySet[SimulatedJob], **fields: object) -> int:
    """Update these jobs and stamp them with the next change."""
    with transaction.atomic():
        return jobs.update(change=_next_change(), **fields)


def _nodes_of(placement: Iterable[Sequence[int]]) -> set[int]:
    return {int(pair[0]) for pair in placement}


def _placement_problem(spec: JobSpec, nodes: GpuTypeNodes | None) -> str | None:
    if nodes is None:
        return f"no {spec.gpu_type} nodes on this cluster"
    if sum(gpus for _node, gpus in spec.placement) != spec.gpus:
        return "placement does not match the GPU count"
    for node, gpus in spec.placement:
        if not 0 <= node < nodes.nodes or not 0 < gpus <= nodes.gpus_per_node:
            return f"no node {node} with {gpus} GPUs"
    return None


def _backend_job(row: SimulatedJob) -> BackendJob:
    return BackendJob(
        key=row.key,
        backend_job_id=str(row.pk),
        state=BackendState(row.state),
        started_at=row.started_at,
        ended_at=row.ended_at,
        exit_code=row.exit_code,
    )
