"""API tokens: created by their owner, shown once, stored only as a digest, revocable."""

import uuid
from datetime import timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import ApiToken, User
from stargate_portal.errors import NotFound, ValidationFailed

MAX_TOKEN_DAYS = 365


def api_token_create(*, user: User, name: str, expires_in_days: int = 90) -> tuple[ApiToken, str]:
    """Create a token; the clear text is returned here and never again."""
    if not name.strip():
        raise ValidationFailed.on_field("name", _("Give the token a name."))
    if not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise ValidationFailed.on_field(
            "expires_in_days",
            _("A token lives between 1 and %(max)d days.") % {"max": MAX_TOKEN_DAYS},
        )
    with transaction.atomic():
        token, clear_text = ApiToken.objects.create(
            user=user, expiry=timedelta(days=expires_in_days), name=name.strip()
        )
    return token, clear_text


def api_token_revoke(*, user: User, public_id: uuid.UUID | str) -> None:
    """Revoke one of the user's tokens at once (another user's token is not found)."""
    deleted, _count = ApiToken.objects.filter(user=user, public_id=public_id).delete()
    if not deleted:
        raise NotFound(_("No such token."))
