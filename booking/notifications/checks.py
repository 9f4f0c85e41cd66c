"""`manage.py check --deploy`: links in e-mails need the portal's public https address."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def site_url_is_public(
    *, app_configs: Sequence[AppConfig] | None, databases: Sequence[str] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    if settings.SITE_URL.startswith("https://"):
        return []
    return [
        checks.Warning(
            f"SITE_URL is {settings.SITE_URL}: links in e-mails would point there.",
            hint="Set SITE_URL to the portal's public address, e.g. https://portal.example.eu.",
            id="booking.W001",
        )
    ]
