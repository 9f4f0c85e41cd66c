"""Celery tasks of accounts: thin, take plain values or ids, safe to run twice."""

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def email_send(*, subject: str, body: str, to: list[str], html: str = "") -> None:
    """Send one e-mail through the configured backend (EMAIL_URL)."""
    message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, to)
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


def queue_email(*, subject: str, body: str, to: list[str], html: str = "") -> None:
    """Send after the surrounding transaction commits, so a rolled-back write sends nothing."""
    transaction.on_commit(lambda: email_send.delay(subject=subject, body=body, to=to, html=html))


@shared_task
def api_tokens_purge_expired() -> int:
    """Delete expired API tokens (knox refuses them already; this keeps the table small)."""
    from accounts.models import ApiToken

    deleted, _ = ApiToken.objects.filter(expiry__lt=timezone.now()).delete()
    return deleted
