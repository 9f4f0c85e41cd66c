#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stargate_portal.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 (loads the settings: a refusal is said plainly)
    except ImproperlyConfigured as refused:
        # Django would go on without its apps and fail later with an unrelated traceback
        # ("Models aren't loaded yet"); say why the settings refused to load instead.
        sys.exit(f"manage.py: {refused}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
