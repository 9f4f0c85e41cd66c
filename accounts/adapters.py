"""django-allauth hooks: e-mails are rendered in the request and sent by a Celery task."""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.core.mail import EmailMultiAlternatives

from accounts.services.outbox import email_queue


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        request = allauth_context.request
        ctx: dict[str, Any] = {"request": request, "email": email}
        if request is not None:
            from django.contrib.sites.shortcuts import get_current_site

            ctx["current_site"] = get_current_site(request)
        ctx.update(context)
        message = self.render_mail(template_prefix, email, ctx)
        html = ""
        if isinstance(message, EmailMultiAlternatives) and message.alternatives:
            html = str(message.alternatives[0][0])
        email_queue(subject=message.subject, body=str(message.body), to=list(message.to), html=html)
