"""What the jobs feature tells the features above it, without importing them.

``jobs_queued`` is sent after the commit of a write that added jobs to the queue (a submit,
jobs back from a budget hold after a top-up); the admission controller listens and asks for a
cycle soon (``booking.admission.receivers``). A staff release or requeue waits for the next
scheduled cycle.

``job_ended`` (``job_id``) is sent after the commit that settled a job the cluster ran to its
end; energy accounting listens (connected in ``booking.apps``).
"""

from django.dispatch import Signal

jobs_queued = Signal()
job_ended = Signal()
