"""Celery tasks of booking: thin, take ids, load fresh state, safe to run twice."""

from celery import shared_task

from booking.models import Allocation
from booking.services.projects import allocation_check_low_balance


@shared_task
def allocation_low_balance_check(allocation_id: int) -> bool:
    allocation = Allocation.objects.filter(pk=allocation_id).first()
    return allocation is not None and allocation_check_low_balance(allocation=allocation)
