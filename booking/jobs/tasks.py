"""Celery tasks of jobs: thin, take plain values, safe to run twice.

Each task imports what it uses inside its body, so services can queue it without a cycle.
"""

from celery import shared_task


@shared_task(ignore_result=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=10)
def job_cluster_cancel(*submission_keys: str) -> None:
    """Cancel jobs on the cluster, retried while the cluster does not answer (cancelling a
    job the cluster no longer runs changes nothing). Nothing queues it any more (a stopped
    job's cancel is kept in ``ClusterCancel`` and sent by the reconcile): it runs the
    messages an earlier version queued."""
    from booking.cluster.registry import cluster_backend

    cluster_backend().cancel(list(submission_keys))
