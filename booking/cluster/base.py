"""The interface every cluster backend implements (``simulator/``, ``slurm/``).

A job is known to the cluster by its *submission key* (the platform's job uuid, plus the
attempt once staff requeued it): Slurm carries it as ``--comment``/job name. ``submit`` is
idempotent by key and callers ``find`` before any retry, so a job is submitted at most once.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

Placement = tuple[tuple[int, int], ...]
"""``((node_index, gpus), ...)`` within one GPU type, as the admission policy decided it."""


class BackendState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    NODE_FAIL = "node_fail"


FINISHED_BACKEND_STATES = frozenset(
    {
        BackendState.COMPLETED,
        BackendState.FAILED,
        BackendState.CANCELLED,
        BackendState.TIMEOUT,
        BackendState.NODE_FAIL,
    }
)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What the cluster needs to run one job."""

    key: str
    name: str
    account: str
    gpu_type: str
    gpus: int
    walltime_minutes: int
    placement: Placement
    script: str = ""
    container_image: str = ""
    command: str = ""
    environment: Mapping[str, str] = field(default_factory=dict)
    reservation: str | None = None


@dataclass(frozen=True, slots=True)
class BackendJob:
    """The cluster's view of one job.

    ``reason`` is a platform reason code (``booking.models.JobReason``) for why a queued job
    waits on the cluster or why a finished one ended, "" when there is nothing to say;
    ``backend_reason`` is the cluster's own word for it (Slurm's ``ReqNodeNotAvail``, ``OOM``).
    The accounting fields are what the cluster measured, when it reports them.
    """

    key: str
    backend_job_id: str
    state: BackendState
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    reason: str = ""
    backend_reason: str = ""
    elapsed_seconds: int | None = None
    allocated_tres: Mapping[str, str] = field(default_factory=dict)
    consumed_energy_joules: int | None = None
    nodes: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_BACKEND_STATES


@dataclass(frozen=True, slots=True)
class GpuTypeNodes:
    """The nodes of one GPU type; ``unavailable`` are down or drained (indices from 0)."""

    gpu_type: str
    nodes: int
    gpus_per_node: int
    unavailable: frozenset[int] = frozenset()

    @property
    def total_gpus(self) -> int:
        return self.nodes * self.gpus_per_node

    @property
    def usable_gpus(self) -> int:
        return (self.nodes - len(self.unavailable)) * self.gpus_per_node


@dataclass(frozen=True, slots=True)
class ClusterAccount:
    """What one project may do on the cluster, as a safety net behind the platform's ledger.

    ``project`` is the project's id as ``JobSpec.account`` carries it; ``gpu_minutes`` caps
    the GPU-minutes its jobs may use in total per GPU type (0: none); ``may_start_jobs`` is
    false for a suspended or ended project (its running jobs are left alone).
    """

    project: str
    gpu_minutes: Mapping[str, int]
    max_running_gpus: int | None = None
    may_start_jobs: bool = True


@dataclass(frozen=True, slots=True)
class AccountSyncReport:
    """Cluster account names created, updated and found as they should be."""

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
        }


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """Backend job ids of the accepted keys; a reason for each refused one (not retried)."""

    accepted: dict[str, str]
    rejected: dict[str, str]


@dataclass(frozen=True, slots=True)
class Changes:
    """What ``changes_since`` found. ``complete``: every active key was asked and a key
    missing from ``jobs`` is unknown to the cluster (a full answer); otherwise ``jobs`` holds
    only the jobs that changed. ``cursor`` is passed to the next call ("" when the backend
    keeps none)."""

    jobs: dict[str, BackendJob]
    cursor: str
    complete: bool
    lost: frozenset[str] = frozenset()
    """Keys asked for in full that the cluster does not know (when not ``complete``)."""


POLL_CHUNK = 1_000


class ClusterBackend(abc.ABC):
    """A cluster that runs admitted jobs. Implementations must be safe to call from several
    worker processes at once."""

    name: str = "abstract"
    manages_accounts: bool = False
    """True when the cluster keeps accounts of its own that ``accounts_sync`` must provision."""

    @abc.abstractmethod
    def now(self) -> datetime:
        """The cluster's clock (aware UTC); job times and admission decisions use it."""

    @abc.abstractmethod
    def capacity(self) -> dict[str, GpuTypeNodes]:
        """The nodes of each GPU type by name."""

    @abc.abstractmethod
    def submit(self, specs: Sequence[JobSpec]) -> SubmitResult:
        """Start these jobs; a key the cluster already knows is not started again."""

    @abc.abstractmethod
    def find(self, keys: Collection[str]) -> dict[str, BackendJob]:
        """The jobs the cluster knows among ``keys`` (reconcile before any retry)."""

    @abc.abstractmethod
    def poll(self, keys: Collection[str]) -> dict[str, BackendJob]:
        """Bring the cluster's state up to date and report these jobs (missing: unknown)."""

    @abc.abstractmethod
    def cancel(self, keys: Collection[str]) -> None:
        """Stop these jobs if they are queued or running; unknown or finished keys are ignored.
        Raises ``BackendUnavailable`` when the cluster does not answer: the platform keeps the
        keys (``ClusterCancel``) and sends them again."""

    @abc.abstractmethod
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
        """Set whole nodes aside for an account; returns the reserved node indices."""

    @abc.abstractmethod
    def delete_reservation(self, name: str) -> None:
        """Drop a reservation; an unknown name is ignored."""

    def changes_all(self, active_keys: Callable[[], Collection[str]]) -> Changes:
        """A full answer: every active job polled (in chunks), with a fresh cursor."""
        keys = list(active_keys())
        jobs: dict[str, BackendJob] = {}
        for start in range(0, len(keys), POLL_CHUNK):
            jobs.update(self.poll(keys[start : start + POLL_CHUNK]))
        return Changes(jobs, cursor="", complete=True)

    def changes_since(self, cursor: str, active_keys: Callable[[], Collection[str]]) -> Changes:
        """The jobs that changed since ``cursor`` (reconcile asks this every run). The
        default is a full poll of ``active_keys()``: a backend that can tell what changed
        (the simulator) overrides it and never calls ``active_keys``."""
        return self.changes_all(active_keys)

    def accounts_sync(self, accounts: Sequence[ClusterAccount]) -> AccountSyncReport:
        """Create or update the cluster's account of each project, idempotently. A cluster
        without accounts of its own (the simulator) has nothing to do."""
        return AccountSyncReport()

    def healthy(self) -> bool | None:
        """Whether the cluster answers now (``/healthz``); cheap, never raises. None: the
        cluster runs inside the platform (the simulator) and has nothing to report."""
        return None


class BackendUnavailable(Exception):
    """The cluster could not be reached; the caller retries later."""
