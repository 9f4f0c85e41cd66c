"""Celery tasks of admission: thin, take ids, load fresh state, safe to run twice.

Each task imports its service inside the body: services may queue these tasks without an
import cycle (a task module imports nothing of the project at load time).
"""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone


@shared_task(ignore_result=True)
def admission_cycle_run() -> dict[str, object] | None:
    """One admission cycle (beat, and after submissions); None when another one was running."""
    from booking.admission.cycle import admission_run

    report = admission_run()
    return None if report is None else report.as_dict()


@shared_task(ignore_result=True)
def jobs_reconcile() -> dict[str, int]:
    """Send admitted jobs the cycle could not send, follow the cluster, settle budgets."""
    from booking.admission.reconcile import jobs_reconcile as reconcile

    return reconcile().as_dict()


@shared_task(ignore_result=True)
def admission_cycles_prune(days: int = 7) -> int:
    """Forget admission cycle logs older than ``days``."""
    from booking.models import AdmissionCycle

    cutoff = timezone.now() - timedelta(days=days)
    deleted, _by_model = AdmissionCycle.objects.filter(started_at__lt=cutoff).delete()
    return deleted
