"""The clock bookings follow: the cluster's (``ClusterBackend.now``), as admission does, so a
window opens for the charge, the reservation and the jobs at the same moment. Tests and demos
move the simulator's clock."""

from datetime import datetime

from booking.cluster.registry import cluster_backend


def booking_now() -> datetime:
    return cluster_backend().now()
