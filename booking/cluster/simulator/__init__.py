"""The built-in simulated cluster (``CLUSTER_BACKEND=simulator``, the default)."""

from booking.cluster.simulator.backend import SimulatorBackend

__all__ = ["SimulatorBackend"]
