from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = "GPU calls, projects, jobs and bookings"

    def ready(self) -> None:
        from booking.notifications import checks  # noqa: F401 - registers the deploy check
