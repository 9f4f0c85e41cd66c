"""The platform's one clock for everything it records about the cluster: the cluster's own
(``ClusterBackend.now``). Ledger stamps, job events, admission cycles and the allocation date
checks all read it, so a simulator moved forward (or frozen) moves them together."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone

from booking.cluster.registry import cluster_backend


def cluster_now() -> datetime:
    """The configured cluster's current time (aware UTC)."""
    return cluster_backend().now()


def cluster_today(now: datetime | None = None) -> date:
    """The date allocations are checked against: the cluster's, in the site's time zone."""
    return timezone.localdate(now or cluster_now())
