"""Pending jobs split into queues: per project and GPU type, or per booking, in submit order."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from operator import attrgetter

from booking.scheduler.jobs import PendingJob

_submit_time = attrgetter("submit_time")


class PendingQueues:
    """The pending jobs a cycle reads, kept between cycles and updated from events.

    A cycle only looks at queue heads, so it never walks every pending job.
    """

    __slots__ = ("_booked", "_by_type", "_jobs")

    def __init__(self, jobs: Iterable[PendingJob] = ()) -> None:
        self._by_type: dict[str, dict[int, list[PendingJob]]] = {}
        self._booked: dict[int, list[PendingJob]] = {}
        self._jobs: dict[str, PendingJob] = {}
        for job in sorted(jobs, key=lambda job: (job.submit_time, job.job_id)):
            self.add(job)

    @classmethod
    def from_pending_by_project(
        cls, pending_by_project: Mapping[int, Sequence[PendingJob]]
    ) -> PendingQueues:
        """Queues from pending jobs grouped by project (any order within a project)."""
        return cls(chain.from_iterable(pending_by_project.values()))

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def get(self, job_id: str) -> PendingJob | None:
        return self._jobs.get(job_id)

    def by_project(self, gpu_type: str) -> Mapping[int, Sequence[PendingJob]]:
        """Queues of jobs outside bookings for one GPU type, keyed by project."""
        return self._by_type.get(gpu_type, {})

    def booked(self) -> Mapping[int, Sequence[PendingJob]]:
        """Queues of jobs that run inside a booking, keyed by booking."""
        return self._booked

    def gpu_types(self) -> Iterable[str]:
        return self._by_type.keys()

    def add(self, job: PendingJob) -> None:
        """Queue a job; jobs usually arrive in submit order, so this is an append."""
        if job.job_id in self._jobs:
            return
        self._jobs[job.job_id] = job
        queue = self._queue_for(job, create=True)
        if queue and queue[-1].submit_time > job.submit_time:
            bisect.insort_right(queue, job, key=_submit_time)
        else:
            queue.append(job)

    def remove(self, job_id: str) -> PendingJob | None:
        """Drop a job that was admitted, cancelled or rejected; None if it was not pending."""
        job = self._jobs.pop(job_id, None)
        if job is None:
            return None
        queue = self._queue_for(job, create=False)
        # Admitted jobs are at or near the head, so this scan is short in practice.
        index = next(i for i, queued in enumerate(queue) if queued.job_id == job_id)
        del queue[index]
        if not queue:
            self._drop_empty_queue(job)
        return job

    def _queue_for(self, job: PendingJob, *, create: bool) -> list[PendingJob]:
        if job.booking_id is not None:
            if create:
                return self._booked.setdefault(job.booking_id, [])
            return self._booked[job.booking_id]
        if create:
            return self._by_type.setdefault(job.gpu_type, {}).setdefault(job.project_id, [])
        return self._by_type[job.gpu_type][job.project_id]

    def _drop_empty_queue(self, job: PendingJob) -> None:
        if job.booking_id is not None:
            del self._booked[job.booking_id]
            return
        by_project = self._by_type[job.gpu_type]
        del by_project[job.project_id]
        if not by_project:
            del self._by_type[job.gpu_type]
