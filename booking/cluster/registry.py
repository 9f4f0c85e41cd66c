"""Cluster backends behind one interface, chosen by ``settings.CLUSTER_BACKEND``."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from booking.cluster.base import ClusterBackend


def cluster_backend() -> ClusterBackend:
    """The configured backend: ``simulator`` (default); ``slurm`` arrives in a later issue."""
    name = settings.CLUSTER_BACKEND
    if name == "simulator":
        from booking.cluster.simulator.backend import SimulatorBackend

        return SimulatorBackend()
    raise ImproperlyConfigured(f"Unknown CLUSTER_BACKEND {name!r} (known: simulator).")
