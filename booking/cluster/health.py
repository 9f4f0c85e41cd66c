"""The cluster's line in ``/healthz`` (registered by ``booking.apps``)."""

from booking.cluster.registry import cluster_backend


def cluster_health() -> bool | None:
    """Whether the configured cluster answers; None when it has nothing to report."""
    return cluster_backend().healthy()
