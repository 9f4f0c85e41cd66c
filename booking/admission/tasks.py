"""Celery tasks of admission: thin, take ids, load fresh state, safe to run twice.

Each task imports its service inside the body: services may queue these tasks without an
import cycle (a task module imports nothing of the project at load time).
"""

import logging
from datetime import timedelta

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def admission_cycle_run() -> dict[str, object] | None:
    """One admission cycle (beat, and after submissions); None when another one was running."""
    from booking.admission.cycle import admission_run

    report = admission_run()
    return None if report is None else report.as_dict()


@shared_task(ignore_result=True)
def jobs_reconcile() -> dict[str, int] | None:
    """Send admitted jobs the cycle could not send, follow the cluster, settle budgets.

    While the cluster does not answer it logs a warning and returns None; beat runs it again
    in ``JOBS_RECONCILE_SECONDS`` and the backend's own backoff spaces out the attempts.
    """
    from booking.admission.reconcile import jobs_reconcile as reconcile
    from booking.cluster.base import BackendUnavailable

    try:
        return reconcile().as_dict()
    except BackendUnavailable as unavailable:
        logger.warning("reconcile postponed, cluster unavailable: %s", unavailable)
        return None


@shared_task(ignore_result=True)
def admission_cycles_prune(days: int = 7) -> int:
    """Forget admission cycle logs older than ``days``."""
    from booking.cluster.clock import cluster_now
    from booking.models import AdmissionCycle

    # Cycles are stamped with the cluster's clock, so the cutoff is taken on it too.
    cutoff = cluster_now() - timedelta(days=days)
    deleted, _by_model = AdmissionCycle.objects.filter(started_at__lt=cutoff).delete()
    return deleted
