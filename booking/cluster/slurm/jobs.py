"""Slurm's jobs in the platform's words: squeue and sacct lines → ``BackendJob``.

squeue answers from the controller's memory (live jobs, and finished ones for ``MinJobAge``,
300 s by default); sacct from the accounting database (exit code, elapsed time, allocated
TRES, consumed energy, but only once the job's end record arrived). Both are asked with
``SLURM_TIME_FORMAT=%s``, so every time is epoch seconds whatever the hosts' time zones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from booking.cluster.base import BackendJob, BackendState

SQUEUE_FORMAT = "%i|%j|%T|%r|%S|%e|%N|%M"
SACCT_FIELDS = (
    "JobID",
    "JobName",
    "State",
    "ExitCode",
    "ElapsedRaw",
    "Start",
    "End",
    "AllocTRES",
    "ConsumedEnergyRaw",
    "NodeList",
)

_QUEUED = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING"})
_RUNNING = frozenset({"RUNNING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "RESIZING"})
_FINAL: dict[str, tuple[BackendState, str]] = {
    "COMPLETED": (BackendState.COMPLETED, ""),
    "FAILED": (BackendState.FAILED, ""),
    "SPECIAL_EXIT": (BackendState.FAILED, ""),
    "OUT_OF_MEMORY": (BackendState.FAILED, "out_of_memory"),
    "TIMEOUT": (BackendState.TIMEOUT, ""),
    "DEADLINE": (BackendState.TIMEOUT, ""),
    "CANCELLED": (BackendState.CANCELLED, "cancelled_on_cluster"),
    "REVOKED": (BackendState.CANCELLED, "cancelled_on_cluster"),
    "PREEMPTED": (BackendState.CANCELLED, "preempted"),
    "NODE_FAIL": (BackendState.NODE_FAIL, "node_failure"),
    "BOOT_FAIL": (BackendState.NODE_FAIL, "node_failure"),
}
"""Slurm's final states → the platform's state and the reason its history gives."""

_WAIT_REASONS = {
    "Reservation": "booking_not_started",
    "JobHeldAdmin": "held_by_staff",
    "JobHeldUser": "held_by_staff",
}
_ELAPSED = re.compile(r"^(?:(?P<d>\d+)-)?(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d+)$")


def is_final(slurm_state: str) -> bool:
    return _state_word(slurm_state) in _FINAL


def wait_reason(slurm_reason: str) -> str:
    """Why Slurm keeps an admitted job pending, as a platform reason code: its GPU-minute
    safety net (``budget``), another association or QOS limit (``project_limit``), a booking
    not started, a hold; anything else is a wait in the cluster's queue."""
    if slurm_reason in _WAIT_REASONS:
        return _WAIT_REASONS[slurm_reason]
    if slurm_reason.startswith("AssocGrp") and slurm_reason.endswith("Minutes"):
        return "budget"
    if slurm_reason.startswith(("AssocGrp", "AssocMax", "QOS")):
        return "project_limit"
    return "cluster_queue"


@dataclass(frozen=True)
class QueueRow:
    """One line of squeue."""

    job_id: str
    name: str
    state: str
    reason: str
    started_at: datetime | None
    ended_at: datetime | None
    nodes: str
    elapsed_seconds: int | None

    @property
    def final(self) -> bool:
        return is_final(self.state) or self.state == "COMPLETING"


def parse_squeue(text: str) -> list[QueueRow]:
    rows = []
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 8:
            continue
        job_id, name, state, reason, start, end, nodes, used = fields
        running = state not in _QUEUED
        rows.append(
            QueueRow(
                job_id=job_id,
                name=name,
                state=state,
                reason=reason,
                # A pending job's %S is when Slurm expects it to start, not a start.
                started_at=epoch(start) if running else None,
                ended_at=epoch(end) if is_final(state) else None,
                nodes=nodes,
                elapsed_seconds=elapsed_seconds(used),
            )
        )
    return rows


def live_job(key: str, row: QueueRow, node_names: list[str]) -> BackendJob:
    """The job as squeue shows it, while it waits or runs. A job squeue shows as finished is
    reported as still running (or still queued, if it never ran) until sacct has its end."""
    never_ran = row.final and not row.elapsed_seconds
    if row.state in _QUEUED or never_ran:
        return BackendJob(
            key=key,
            backend_job_id=row.job_id,
            state=BackendState.QUEUED,
            reason=wait_reason(row.reason),
            backend_reason=row.reason,
        )
    return BackendJob(
        key=key,
        backend_job_id=row.job_id,
        state=BackendState.RUNNING,
        started_at=row.started_at,
        elapsed_seconds=row.elapsed_seconds,
        nodes=tuple(node_names),
    )


@dataclass(frozen=True)
class AccountingRow:
    """One line of ``sacct -X -P`` with ``SACCT_FIELDS``."""

    job_id: str
    name: str
    state: str
    exit_code: int | None
    elapsed_seconds: int | None
    started_at: datetime | None
    ended_at: datetime | None
    allocated_tres: dict[str, str]
    consumed_energy_joules: int | None
    nodes: str


def parse_sacct(text: str) -> list[AccountingRow]:
    rows = []
    for line in text.splitlines():
        fields = line.rstrip("\n").split("|")
        if len(fields) != len(SACCT_FIELDS):
            continue
        job_id, name, state, exit_code, elapsed, start, end, tres, energy, nodes = fields
        rows.append(
            AccountingRow(
                job_id=job_id,
                name=name,
                state=_state_word(state),
                exit_code=parse_exit_code(exit_code),
                elapsed_seconds=int(elapsed) if elapsed.isdigit() else None,
                started_at=epoch(start),
                ended_at=epoch(end),
                allocated_tres=parse_tres(tres),
                consumed_energy_joules=int(energy) if energy.isdigit() else None,
                nodes=nodes,
            )
        )
    return rows


def accounted_job(key: str, row: AccountingRow, node_names: list[str]) -> BackendJob:
    """The job as the accounting database reports it (finished or not)."""
    if row.state in _FINAL:
        state, reason = _FINAL[row.state]
    elif row.state in _QUEUED:
        state, reason = BackendState.QUEUED, "cluster_queue"
    else:
        state, reason = BackendState.RUNNING, ""
    # A job that never got nodes (cancelled while pending) has Start = End: it never started.
    ran = row.nodes not in ("", "None assigned")
    return BackendJob(
        key=key,
        backend_job_id=row.job_id,
        state=state,
        started_at=row.started_at if ran else None,
        ended_at=row.ended_at if state not in (BackendState.QUEUED, BackendState.RUNNING) else None,
        exit_code=row.exit_code if state != BackendState.QUEUED else None,
        reason=reason,
        backend_reason=row.state,
        elapsed_seconds=row.elapsed_seconds,
        allocated_tres=row.allocated_tres,
        consumed_energy_joules=row.consumed_energy_joules or None,
        nodes=tuple(node_names),
    )


def epoch(value: str) -> datetime | None:
    """``1796032062`` → aware UTC datetime; ``N/A``, ``Unknown``, ``None``, ``0`` → None."""
    return datetime.fromtimestamp(int(value), tz=UTC) if value.isdigit() and value != "0" else None


def elapsed_seconds(value: str) -> int | None:
    """``1-02:03:04``, ``02:03:04``, ``3:04`` → seconds; anything else → None."""
    match = _ELAPSED.match(value.strip())
    if match is None:
        return None
    days, hours = int(match["d"] or 0), int(match["h"] or 0)
    return ((days * 24 + hours) * 60 + int(match["m"])) * 60 + int(match["s"])


def parse_exit_code(value: str) -> int | None:
    """sacct's ``code:signal``: the code, or 128 + signal when a signal ended the job (as a
    shell reports it; Slurm's own markers above 64, such as 125 for OOM, are no signals)."""
    code, _, signal = value.partition(":")
    if not code.isdigit():
        return None
    if signal.isdigit() and 0 < int(signal) <= 64:
        return 128 + int(signal)
    return int(code)


def parse_tres(value: str) -> dict[str, str]:
    """``cpu=1,gres/gpu:h100=2,node=1`` → ``{"cpu": "1", "gres/gpu:h100": "2", "node": "1"}``."""
    pairs = (item.partition("=") for item in value.split(",") if "=" in item)
    return {name: amount for name, _, amount in pairs}


def _state_word(state: str) -> str:
    """``CANCELLED by 0`` → ``CANCELLED``; ``COMPLETED+`` → ``COMPLETED``."""
    return state.split(" ")[0].rstrip("+")
