"""What capacity bookings tell the features above them, without importing them.

``booked_jobs_due`` (``now``) is sent by the beat task (``bookings_advance``) on every run: the
jobs feature stops the jobs of bookings that ended or were cancelled (``booking.jobs.receivers``)
and answers how many it stopped.
"""

from django.dispatch import Signal

booked_jobs_due = Signal()
