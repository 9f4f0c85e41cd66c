"""A pending job's position: the cycle's record of its project's queue, then the project's own
jobs before it counted from the last mark (``booking.jobs.queue``), exact across marks and
equal submit times (the statement is written out: it runs on SQLite and PostgreSQL alike)."""

from datetime import timedelta

from django.utils import timezone

from accounts.models import User
from booking.admission.cycle import snapshot_cache
from booking.cluster.clock import cluster_now
from booking.jobs.queue import COUNT_FROM_MARK_MAX, queue_standing
from booking.models import GpuType, Job, JobState, Project
from booking.scheduler.standing import MARK_EVERY
from tests.fixtures.jobs import SCRIPT, cycle, queue

BUSY = 2 * MARK_EVERY + 57
"""The busy project's queue: two marks and part of a third stretch."""


def _bulk(
    project: Project, user: User, gpu_type: GpuType, jobs: int, *, days_ago: int = 3
) -> list[Job]:
    """``jobs`` pending jobs of one to three GPUs, a second apart from ``days_ago``, every
    third one submitted at the same instant as the one before it (ties are settled by id);
    returns the project's pending jobs in queue order."""
    start = timezone.now() - timedelta(days=days_ago)
    at = start
    rows = []
    for n in range(jobs):
        if n % 3 != 2:
            at = start + timedelta(seconds=n)
        rows.append(
            Job(
                project=project,
                submitted_by=user,
                gpu_type=gpu_type,
                gpus=1 + n % 3,
                walltime_minutes=60 + n % 7,
                name=f"queued-{n}",
                script=SCRIPT,
                submitted_at=at,
            )
        )
    Job.objects.bulk_create(rows)
    return list(
        Job.objects.filter(project=project, state=JobState.PENDING)
        .exclude(name="big")
        .order_by("submitted_at", "pk")
    )


def _positions(jobs: list[Job]) -> list[int | None]:
    now = cluster_now()
    return [queue_standing(job, now=now).position for job in jobs]


def test_every_job_of_a_long_queue_is_one_place_behind_the_one_before_it(
    alice: User,
    alice_project: Project,
    bob: User,
    bob_project: Project,
    h100: GpuType,
) -> None:
    queue(alice, alice_project, name="big", gpus=32, walltime_minutes=600)
    cycle()  # the whole H100 site is busy: what follows stays pending
    others = _bulk(bob_project, bob, h100, 5)
    jobs = _bulk(alice_project, alice, h100, BUSY)
    snapshot_cache.invalidate()  # bulk rows have no events: the next cycle loads them all
    cycle()

    positions = _positions(jobs)

    assert None not in positions
    assert [p - positions[0] for p in positions] == list(range(BUSY))
    assert positions[0] in (1, 1 + len(others))  # behind bob's queue, or ahead of it


def test_a_job_too_far_past_the_last_mark_waits_for_the_next_cycle(
    alice: User, alice_project: Project, h100: GpuType
) -> None:
    queue(alice, alice_project, name="big", gpus=32, walltime_minutes=600)
    cycle()
    jobs = _bulk(alice_project, alice, h100, MARK_EVERY + 1)
    snapshot_cache.invalidate()
    cycle()  # marks at the first job and at job MARK_EVERY
    later = _bulk(alice_project, alice, h100, COUNT_FROM_MARK_MAX + 1, days_ago=2)[len(jobs) :]

    positions = _positions([jobs[-1], later[COUNT_FROM_MARK_MAX - 2], later[-1]])

    assert positions[:2] == [positions[0], positions[0] + COUNT_FROM_MARK_MAX - 1]
    assert positions[2] is None
    assert queue_standing(later[-1], now=cluster_now()).known_within_seconds is not None
