"""GPU-hours of a job: held on admission (gpus x walltime), charged at the end (gpus x runtime).

Pure Python, in the policy's package because everything computes the same amounts: the policy
(whether a hold fits a project's budget), the job model, the ledger and the admission cycle.
"""

from decimal import Decimal

HOURS = Decimal("0.0001")
"""The ledger's unit: every amount is kept to four decimals of a GPU-hour."""
ZERO = Decimal("0.0000")


def quantise_hours(value: Decimal | int | float | str) -> Decimal:
    """``value`` GPU-hours to the ledger's unit."""
    return Decimal(value if not isinstance(value, float) else str(value)).quantize(HOURS)


def hold_gpu_hours(gpus: int, walltime_minutes: int) -> Decimal:
    """What admission holds for a job: gpus x walltime."""
    return (Decimal(gpus * walltime_minutes) / 60).quantize(HOURS)


def used_gpu_hours(gpus: int, runtime_seconds: int) -> Decimal:
    """What a finished job is charged: gpus x runtime."""
    return (Decimal(gpus * runtime_seconds) / 3600).quantize(HOURS)
