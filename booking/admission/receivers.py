"""The admission controller listening to the jobs feature: new work in the queue asks for a
cycle soon. Connected when the app is ready (``booking.apps``)."""

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.dispatch import receiver

from booking.admission.tasks import admission_cycle_run
from booking.jobs.signals import jobs_queued
from stargate_portal.task_enqueue import task_enqueue

REQUESTED_KEY = "booking:admission-cycle-requested"
# When this process last asked (wall clock): within the debounce window it does not even ask
# the shared cache. That also keeps the cycle requests bounded while the cache is down (its
# ``add`` then grants every claim): one per process per window.
_asked_at = float("-inf")


def admission_request_forget() -> None:
    """Forget this process's last request (tests: each starts with none)."""
    global _asked_at
    _asked_at = float("-inf")


@receiver(jobs_queued)
def admission_request(sender: Any = None, **kwargs: Any) -> None:
    """Ask for an admission cycle soon; submissions within the debounce window ask once."""
    if not settings.ADMISSION_ON_SUBMIT:
        return
    global _asked_at
    debounce = settings.ADMISSION_DEBOUNCE_SECONDS
    now = time.time()
    if 0 <= now - _asked_at < debounce:
        return
    _asked_at = now
    if cache.add(REQUESTED_KEY, 1, timeout=max(debounce, 1.0)):
        # If the broker is down, beat runs the cycle every ADMISSION_CYCLE_SECONDS anyway.
        task_enqueue(admission_cycle_run, countdown=debounce)
