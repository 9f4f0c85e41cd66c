"""Grants listening to the models it owns: an award, a top-up or adjustment, an allocation's
dates and a suspension change what a project's cluster account may do, so each asks for the
account to be provisioned after the commit. Connected when the app is ready (``booking.apps``).
"""

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from booking.cluster.registry import backend_class
from booking.grants.tasks import cluster_accounts_sync
from booking.models import Allocation, LedgerEntry, LedgerEntryKind, Project
from stargate_portal.task_enqueue import task_enqueue_on_commit

_GRANTED = (LedgerEntryKind.GRANT, LedgerEntryKind.ADJUSTMENT)


@receiver(post_save, sender=Project)
def project_saved(sender: Any, *, instance: Project, **kwargs: Any) -> None:
    cluster_accounts_request(instance.pk)


@receiver(post_save, sender=Allocation)
def allocation_saved(sender: Any, *, instance: Allocation, **kwargs: Any) -> None:
    cluster_accounts_request(instance.project_id)


@receiver(post_save, sender=LedgerEntry)
def granted_hours_moved(sender: Any, *, instance: LedgerEntry, **kwargs: Any) -> None:
    if instance.kind in _GRANTED:
        cluster_accounts_request(instance.project_id)


def cluster_accounts_request(project_id: int) -> None:
    """Provision the project's cluster account once the current transaction commits (when
    the configured backend keeps accounts)."""
    if backend_class(settings.CLUSTER_BACKEND).manages_accounts:
        task_enqueue_on_commit(cluster_accounts_sync, project_ids=[project_id])
