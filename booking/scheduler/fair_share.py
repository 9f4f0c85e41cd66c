"""Fair share: recent usage, decayed with a half-life, relative to the project's allocation."""

from __future__ import annotations

import math


def decayed(value: float, as_of: float, now: float, half_life_seconds: float) -> float:
    """``value`` recorded at ``as_of``, halved every ``half_life_seconds`` until ``now``."""
    # Lazy decay: callers store (value, as_of) and never rewrite every project on a timer.
    elapsed = max(now - as_of, 0.0)
    if half_life_seconds <= 0:
        return 0.0 if elapsed > 0 else value
    return value * 0.5 ** (elapsed / half_life_seconds)


def fair_share_factor(decayed_usage_gpu_hours: float, allocated_gpu_hours: float) -> float:
    """Share of its allocation a project used recently; lower goes first, no allocation last."""
    if allocated_gpu_hours <= 0:
        return math.inf
    return decayed_usage_gpu_hours / allocated_gpu_hours
