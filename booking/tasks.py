"""Celery tasks of booking: thin, take ids, load fresh state, safe to run twice."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from booking.admission.cycle import admission_run
from booking.admission.reconcile import jobs_reconcile as reconcile
from booking.models import AdmissionCycle, Allocation
from booking.services.projects import allocation_check_low_balance


@shared_task
def allocation_low_balance_check(allocation_id: int) -> bool:
    allocation = Allocation.objects.filter(pk=allocation_id).first()
    return allocation is not None and allocation_check_low_balance(allocation=allocation)


@shared_task(ignore_result=True)
def admission_cycle_run() -> dict[str, object] | None:
    """One admission cycle (beat, and after submissions); None when another one was running."""
    report = admission_run()
    return None if report is None else report.as_dict()


@shared_task(ignore_result=True)
def jobs_reconcile() -> dict[str, int]:
    """Send admitted jobs the cycle could not send, follow the cluster, settle budgets."""
    return reconcile().as_dict()


@shared_task(ignore_result=True)
def admission_cycles_prune(days: int = 7) -> int:
    """Forget admission cycle logs older than ``days``."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _by_model = AdmissionCycle.objects.filter(started_at__lt=cutoff).delete()
    return deleted
