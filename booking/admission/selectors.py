"""Reads of the admission controller's own records (staff console)."""

from django.db.models import Prefetch

from booking.models import AdmissionCycle, AdmissionReservation


def admission_cycles_recent(limit: int = 20) -> list[AdmissionCycle]:
    """The last admission cycles, newest first, each with its backfill reservations (the jobs
    kept room for, per GPU type): two queries."""
    reservations = AdmissionReservation.objects.select_related("gpu_type").order_by(
        "gpu_type__name"
    )
    return list(
        AdmissionCycle.objects.order_by("-started_at", "-pk").prefetch_related(
            Prefetch("reservations", queryset=reservations)
        )[:limit]
    )
