"""Each project's account on the cluster: what it may run there, as a safety net behind the
ledger. Provisioned on award, top-up, allocation change and suspension (``receivers``), and
every ``CLUSTER_ACCOUNTS_SYNC_SECONDS`` (allocations that ended); by hand with
``manage.py cluster_accounts_sync``. A backend without accounts (the simulator) ignores it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from django.utils import timezone

from booking.cluster.base import AccountSyncReport, ClusterAccount, ClusterBackend
from booking.cluster.registry import cluster_backend
from booking.ledger.selectors import balances_by_project
from booking.models import Allocation, Project, ProjectState


def project_cluster_accounts(
    project_ids: Collection[int] | None = None, *, today: date
) -> list[ClusterAccount]:
    """The cluster account every project (or those of ``project_ids``) should have: its
    granted GPU-minutes per GPU type while the allocation is active today (else 0), its
    running-GPU limit, and whether it may start jobs (active, with an active allocation)."""
    projects = Project.objects.order_by("pk")
    if project_ids is not None:
        projects = projects.filter(pk__in=list(project_ids))
    rows = list(projects.values_list("pk", "state", "max_running_gpus"))
    ids = [pk for pk, _state, _limit in rows]
    balances = balances_by_project(ids)
    active: dict[int, set[str]] = {pk: set() for pk in ids}
    allocations = Allocation.objects.filter(project_id__in=ids).values_list(
        "project_id", "gpu_type__name", "starts_on", "ends_on"
    )
    for project_id, gpu_type, starts_on, ends_on in allocations:
        if starts_on <= today <= ends_on:
            active[project_id].add(gpu_type)
    return [
        ClusterAccount(
            project=str(pk),
            gpu_minutes={
                gpu_type: int(balance.granted * 60) if gpu_type in active[pk] else 0
                for gpu_type, balance in balances[pk].items()
            },
            max_running_gpus=limit,
            may_start_jobs=state == ProjectState.ACTIVE and bool(active[pk]),
        )
        for pk, state, limit in rows
    ]


def cluster_accounts_sync(
    *, project_ids: Collection[int] | None = None, backend: ClusterBackend | None = None
) -> AccountSyncReport:
    """Create or update the cluster accounts of these projects (all when None)."""
    backend = backend or cluster_backend()
    if not backend.manages_accounts:
        return AccountSyncReport()
    today = timezone.localdate(backend.now())
    return backend.accounts_sync(project_cluster_accounts(project_ids, today=today))
