from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = "GPU calls, projects, jobs and bookings"

    def ready(self) -> None:
        # Features tell those above them what happened through signals (never an import
        # upwards); the listeners connect here, with the deploy checks.
        from booking.admission import receivers as admission_receivers
        from booking.cluster.health import cluster_health
        from booking.energy.receivers import account_ended_job
        from booking.grants import receivers as grant_receivers
        from booking.jobs import receivers as job_receivers
        from booking.jobs.signals import job_ended
        from booking.notifications import checks
        from stargate_portal.health import health_check_register

        del admission_receivers, grant_receivers, job_receivers, checks
        health_check_register("cluster", cluster_health)
        # Energy sits below jobs: it cannot import their signal, so it is connected here.
        job_ended.connect(account_ended_job, dispatch_uid="energy-account-ended-job")
