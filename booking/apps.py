from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = "GPU calls, projects, jobs and bookings"

    def ready(self) -> None:
        # Features tell those above them what happened through signals (never an import
        # upwards); the listeners connect here, with the deploy checks.
        from booking.admission import receivers as admission_receivers
        from booking.jobs import receivers as job_receivers
        from booking.notifications import checks

        del admission_receivers, job_receivers, checks
