"""What the ledger tells the features above it, without importing them.

``gpu_hours_granted`` (``project``, ``gpu_type``) is sent inside the transaction of a grant or
of an adjustment upwards: the jobs feature listens and puts jobs held for budget back in the
queue (``booking.jobs.receivers``), in the same transaction.
"""

from django.dispatch import Signal

gpu_hours_granted = Signal()
