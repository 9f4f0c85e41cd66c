"""Notifications: an in-portal row per person, and the same text by e-mail (Celery)."""

from collections.abc import Iterable

from accounts.models import User
from accounts.tasks import queue_email
from booking.models import Notification


def notify(*, users: Iterable[User], subject: str, body: str, url: str = "") -> int:
    """Notify each user in the portal and by e-mail (sent after commit). Returns the count."""
    people = list({u.pk: u for u in users}.values())
    Notification.objects.bulk_create(
        Notification(user=u, subject=subject, body=body, url=url) for u in people
    )
    for user in people:
        queue_email(subject=subject, body=f"{body}\n\n{url}".strip(), to=[user.email])
    return len(people)


def notify_email(*, email: str, subject: str, body: str) -> None:
    """E-mail someone who may have no account yet (an invitation)."""
    queue_email(subject=subject, body=body, to=[email])
