"""Reads of the admission controller's own records (staff console)."""

from booking.models import AdmissionCycle


def admission_cycles_recent(limit: int = 20) -> list[AdmissionCycle]:
    """The last admission cycles, newest first."""
    return list(AdmissionCycle.objects.order_by("-started_at", "-pk")[:limit])
