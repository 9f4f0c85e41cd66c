"""API token authentication: knox's tokens (only a SHA-512 digest stored), checked in one query.

knox's own ``TokenAuthentication`` also reads every other token of the user and deletes the
expired ones on each request: a second query, and a write on a read path. Here an expired
token is simply refused; ``accounts.tasks.api_tokens_purge_expired`` (Celery beat) deletes
expired tokens.
"""

import binascii
from hmac import compare_digest
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.settings import CONSTANTS
from rest_framework import exceptions

from accounts.models import ApiToken


class ApiTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, token: bytes) -> tuple[Any, ApiToken]:
        refused = exceptions.AuthenticationFailed(_("Invalid token."))
        try:
            text = token.decode("utf-8")
            digest = hash_token(text)
        except (UnicodeDecodeError, TypeError, binascii.Error):
            raise refused from None
        now = timezone.now()
        candidates = ApiToken.objects.filter(
            token_key=text[: CONSTANTS.TOKEN_KEY_LENGTH]
        ).select_related("user")
        for candidate in candidates:
            if compare_digest(digest, candidate.digest):
                if candidate.expiry is not None and candidate.expiry < now:
                    raise refused
                return self.validate_user(candidate)
        raise refused


class ApiTokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme: knox's, for this class."""

    target_class = "accounts.api.authentication.ApiTokenAuthentication"
