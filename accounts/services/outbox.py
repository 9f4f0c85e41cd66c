"""Queue an e-mail with the write that causes it (the outbox, ``accounts/outbox.py``).

``email_queue`` writes an ``OutboxEmail`` row in the caller's transaction and asks a worker to
send it after the commit. If the broker is down the row simply waits for
``accounts.tasks.outbox_send_due`` on beat.
"""

from datetime import timedelta

from django.utils import timezone

from accounts.models import OutboxEmail
from accounts.tasks import outbox_email_send
from stargate_portal.task_enqueue import task_enqueue_on_commit

# The worker queued after the commit normally sends a new e-mail within seconds; the sweep
# leaves it that long before it takes over.
OUTBOX_FIRST_SWEEP_DELAY = timedelta(minutes=1)


def email_queue(*, subject: str, body: str, to: list[str], html: str = "") -> OutboxEmail:
    """Queue an e-mail: stored with the current transaction, sent after its commit."""
    email = OutboxEmail.objects.create(
        to=list(to),
        subject=subject,
        body=body,
        html=html,
        next_attempt_at=timezone.now() + OUTBOX_FIRST_SWEEP_DELAY,
    )
    task_enqueue_on_commit(outbox_email_send, email.pk)
    return email
