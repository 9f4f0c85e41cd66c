"""Notifications: an in-portal row per person, and the same text by e-mail (Celery)."""

from collections.abc import Iterable

from django.conf import settings

from accounts.models import User
from accounts.services.outbox import email_queue
from booking.models import Notification


def notify(*, users: Iterable[User], subject: str, body: str, url: str = "") -> int:
    """Notify each user in the portal and by e-mail (sent after commit). Returns the count.

    ``url`` is a portal path (from ``reverse``): the portal keeps it relative, the e-mail gets
    the full address under ``SITE_URL``.
    """
    people = list({u.pk: u for u in users}.values())
    Notification.objects.bulk_create(
        Notification(user=u, subject=subject, body=body, url=url) for u in people
    )
    text = _email_text(body, url)
    for user in people:
        email_queue(subject=subject, body=text, to=[user.email])
    return len(people)


def notify_email(*, email: str, subject: str, body: str, url: str = "") -> None:
    """E-mail someone who may have no account yet (an invitation); ``url`` as in ``notify``."""
    email_queue(subject=subject, body=_email_text(body, url), to=[email])


def _email_text(body: str, url: str) -> str:
    """The body, then the link as a full address: an e-mail has no host to resolve a path on."""
    if not url:
        return body
    link = (
        url if url.startswith(("https://", "http://")) else f"{settings.SITE_URL}/{url.lstrip('/')}"
    )
    return f"{body}\n\n{link}".strip()
