"""Celery tasks of energy accounting: thin, take ids, safe to run twice."""

from celery import shared_task


@shared_task(ignore_result=True)
def job_energy_account(job_id: int) -> int:
    """A job ended: account its energy (nothing if it already was)."""
    from booking.energy.accounting import job_energy_account as account

    return account(job_id=job_id)


@shared_task(ignore_result=True)
def energy_sweep() -> dict[str, int]:
    """Beat: account the jobs and bookings that ended and have no record yet."""
    from booking.energy.accounting import energy_sweep as sweep

    return sweep()
