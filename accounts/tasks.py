"""Celery tasks of accounts: thin, take plain values or ids, safe to run twice."""

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone


@shared_task(ignore_result=True)
def outbox_email_send(email_id: int) -> bool:
    """Send one e-mail of the outbox (queued after the commit that wrote it)."""
    from accounts.outbox import outbox_email_deliver

    return outbox_email_deliver(email_id=email_id)


@shared_task(ignore_result=True)
def outbox_send_due() -> int:
    """Beat: send the e-mails whose task never ran (broker down) or whose sending failed."""
    from accounts.outbox import outbox_due_ids, outbox_email_deliver

    return sum(outbox_email_deliver(email_id=pk) for pk in outbox_due_ids(now=timezone.now()))


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def email_send(*, subject: str, body: str, to: list[str], html: str = "") -> None:
    """Messages queued before the outbox existed; new e-mails go through ``email_queue``."""
    message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, to)
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


@shared_task
def api_tokens_purge_expired() -> int:
    """Delete expired API tokens (knox refuses them already; this keeps the table small)."""
    from accounts.models import ApiToken

    deleted, _ = ApiToken.objects.filter(expiry__lt=timezone.now()).delete()
    return deleted
