"""The admission controller listening to the jobs feature: new work in the queue asks for a
cycle soon. Connected when the app is ready (``booking.apps``)."""

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.dispatch import receiver

from booking.admission.tasks import admission_cycle_run
from booking.jobs.signals import jobs_queued
from stargate_portal.task_enqueue import task_enqueue

REQUESTED_KEY = "booking:admission-cycle-requested"


@receiver(jobs_queued)
def admission_request(sender: Any = None, **kwargs: Any) -> None:
    """Ask for an admission cycle soon; submissions within the debounce window ask once."""
    if not settings.ADMISSION_ON_SUBMIT:
        return
    debounce = settings.ADMISSION_DEBOUNCE_SECONDS
    if cache.add(REQUESTED_KEY, 1, timeout=max(debounce, 1.0)):
        # If the broker is down, beat runs the cycle every ADMISSION_CYCLE_SECONDS anyway.
        task_enqueue(admission_cycle_run, countdown=debounce)
