"""The jobs feature listening to the features below it: more GPU-hours put budget-held jobs back
in the queue (the ledger); the end of a capacity booking stops its jobs (bookings). Connected
when the app is ready (``booking.apps``)."""

from datetime import datetime
from typing import Any

from django.dispatch import receiver

from booking.capacity.signals import booked_jobs_due
from booking.jobs.services import jobs_requeue_after_top_up, jobs_stop_after_booking
from booking.ledger.signals import gpu_hours_granted
from booking.models import GpuType, Project


@receiver(gpu_hours_granted)
def requeue_jobs_held_for_budget(
    sender: Any, *, project: Project, gpu_type: GpuType, **kwargs: Any
) -> None:
    jobs_requeue_after_top_up(project=project, gpu_type=gpu_type)


@receiver(booked_jobs_due)
def stop_jobs_of_ended_bookings(sender: Any, *, now: datetime, **kwargs: Any) -> int:
    return jobs_stop_after_booking(now=now)
