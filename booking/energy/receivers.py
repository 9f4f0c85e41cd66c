"""Energy accounting listening to the jobs feature (connected in ``booking.apps``, since the
jobs feature sits above this one)."""

from typing import Any

from booking.energy.tasks import job_energy_account
from stargate_portal.task_enqueue import task_enqueue


def account_ended_job(sender: Any, *, job_id: int, **kwargs: Any) -> None:
    """Sent after the commit that settled the job: queue its accounting (the sweep finds it
    if the broker is down)."""
    task_enqueue(job_energy_account, job_id)
