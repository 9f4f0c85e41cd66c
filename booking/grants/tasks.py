"""Celery tasks of grants: thin, take ids, safe to run twice.

Each task imports its service inside the body (services queue these tasks without an import
cycle)."""

from celery import shared_task

from booking.cluster.base import BackendUnavailable


@shared_task(
    ignore_result=True,
    autoretry_for=(BackendUnavailable,),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=12,
)
def cluster_accounts_sync(project_ids: list[int] | None = None) -> dict[str, int]:
    """Provision the cluster accounts of these projects (all when None); retried with
    backoff while the cluster does not answer."""
    from booking.grants.cluster_accounts import cluster_accounts_sync as sync

    return sync(project_ids=project_ids).as_dict()
