from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = "GPU calls, projects, jobs and bookings"
