"""Sending the e-mails of the outbox (``OutboxEmail``), once each, retried until they go out.

A failed send is retried with a growing delay, up to ``OUTBOX_MAX_ATTEMPTS`` times. Sending is
at least once: a crash between the mail server's answer and the commit can send an e-mail
twice, never zero times. E-mails are queued by ``accounts.services.outbox.email_queue``.
"""

import logging
from datetime import datetime, timedelta
from smtplib import SMTPException

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from accounts.models import OutboxEmail

logger = logging.getLogger(__name__)

OUTBOX_MAX_ATTEMPTS = 20
_RETRY_DELAY_MAX = timedelta(hours=1)


def outbox_email_deliver(*, email_id: int) -> bool:
    """Send one queued e-mail unless it went out already or another worker is sending it.
    A mail-server failure is recorded for a later retry; True when it was sent now."""
    with transaction.atomic():
        email = (
            OutboxEmail.objects.select_for_update(skip_locked=True)
            .filter(pk=email_id, sent_at__isnull=True)
            .first()
        )
        if email is None:
            return False
        try:
            _send(email)
        except (OSError, SMTPException) as exc:
            _failed(email, exc, now=timezone.now())
            return False
        email.sent_at = timezone.now()
        email.attempts += 1
        email.save(update_fields=["sent_at", "attempts"])
    return True


def outbox_due_ids(*, now: datetime, limit: int = 100) -> list[int]:
    """E-mails waiting for a (re)try: those the queued task did not send in time."""
    due = OutboxEmail.objects.filter(
        sent_at__isnull=True, next_attempt_at__lte=now, attempts__lt=OUTBOX_MAX_ATTEMPTS
    )
    return list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])


def _send(email: OutboxEmail) -> None:
    message = EmailMultiAlternatives(
        email.subject, email.body, settings.DEFAULT_FROM_EMAIL, list(email.to)
    )
    if email.html:
        message.attach_alternative(email.html, "text/html")
    message.send()


def _failed(email: OutboxEmail, exc: Exception, *, now: datetime) -> None:
    email.attempts += 1
    email.last_error = repr(exc)[:500]
    email.next_attempt_at = now + min(timedelta(minutes=2**email.attempts), _RETRY_DELAY_MAX)
    email.save(update_fields=["attempts", "last_error", "next_attempt_at"])
    log = logger.error if email.attempts >= OUTBOX_MAX_ATTEMPTS else logger.warning
    log("e-mail %s not sent (attempt %s): %r", email.pk, email.attempts, exc)
