"""django-allauth hooks: e-mails are rendered in the request and sent by a Celery task."""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django import forms
from django.core.mail import EmailMultiAlternatives
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services.outbox import email_queue
from stargate_portal.input_limits import column_max_length


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        """An address longer than the column is refused (allauth would cut it to fit, and the
        account would belong to another address)."""
        email = super().clean_email(email)
        limit = column_max_length(User, "email")
        if len(email) > limit:
            raise forms.ValidationError(
                _("An e-mail address has at most %(n)s characters.") % {"n": limit}
            )
        return email

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
