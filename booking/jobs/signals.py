"""What the jobs feature tells the features above it, without importing them.

``jobs_queued`` is sent after the commit of a write that added jobs to the queue (a submit, a
release, a requeue); the admission controller listens and asks for a cycle soon
(``booking.admission.signals``).
"""

from django.dispatch import Signal

jobs_queued = Signal()
