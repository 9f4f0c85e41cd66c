"""Receivers: a confirmed e-mail joins the verified organisations of its domain."""

from typing import Any

from allauth.account.signals import email_confirmed
from django.dispatch import receiver

from accounts.services.memberships import memberships_join_by_email


@receiver(email_confirmed)
def join_organisations_of_confirmed_domain(sender: Any, email_address: Any, **kwargs: Any) -> None:
    memberships_join_by_email(user=email_address.user)
