"""The jobs feature listening to the ledger: more GPU-hours put budget-held jobs back in the
queue. Connected when the app is ready (``booking.apps``)."""

from typing import Any

from django.dispatch import receiver

from booking.jobs.services import jobs_requeue_after_top_up
from booking.ledger.signals import gpu_hours_granted
from booking.models import GpuType, Project


@receiver(gpu_hours_granted)
def requeue_jobs_held_for_budget(
    sender: Any, *, project: Project, gpu_type: GpuType, **kwargs: Any
) -> None:
    jobs_requeue_after_top_up(project=project, gpu_type=gpu_type)
