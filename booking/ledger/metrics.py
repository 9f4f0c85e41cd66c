"""What the ledger tells Prometheus: movements and GPU-hours by kind, counted once committed."""

from collections.abc import Iterable

from django.db import transaction
from prometheus_client import Counter

from booking.models import LedgerEntry

MOVEMENTS = Counter(
    "stargate_ledger_movements",
    "Ledger entries written, by kind (grant, hold, charge …).",
    ["kind"],
)
GPU_HOURS = Counter(
    "stargate_ledger_gpu_hours",
    "GPU-hours moved on the ledger, by kind (the amount without its sign).",
    ["kind"],
)


def movements_count(entries: Iterable[LedgerEntry]) -> None:
    """Count new entries when their transaction commits: a rolled-back movement never was."""
    moved = [(str(entry.kind), abs(float(entry.gpu_hours))) for entry in entries]
    if moved:
        transaction.on_commit(lambda: _count(moved))


def _count(moved: list[tuple[str, float]]) -> None:
    for kind, gpu_hours in moved:
        MOVEMENTS.labels(kind).inc()
        GPU_HOURS.labels(kind).inc(gpu_hours)
