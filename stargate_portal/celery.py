"""The Celery application; tasks live in each app's ``tasks.py``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stargate_portal.settings")

app = Celery("stargate_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each Django app's tasks.py, and those of the feature packages inside booking/ (which are
# packages of one app, not apps of their own).
app.autodiscover_tasks()
app.autodiscover_tasks(
    [
        "booking.ledger",
        "booking.jobs",
        "booking.admission",
        "booking.grants",
        "booking.capacity",
        "booking.energy",
    ]
)
