"""The e-mail outbox: an e-mail is a row first, written in the transaction that decided to send
it, so a broker or mail-server outage delays it instead of losing it."""

from typing import ClassVar

from django.db import models
from django.utils import timezone


class OutboxEmail(models.Model):
    """One e-mail to send. ``sent_at`` is set once it went out; until then a task retries it
    at ``next_attempt_at`` (``accounts.tasks.outbox_send_due`` on beat)."""

    to = models.JSONField(help_text="The recipients' addresses.")
    subject = models.TextField()
    body = models.TextField()
    html = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("created_at", "pk")
        indexes: ClassVar = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(sent_at__isnull=True),
                name="outbox_email_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {', '.join(self.to)}"
