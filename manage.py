#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

READS_ONLY_CODE = frozenset(
    {"check", "collectstatic", "compilemessages", "makemessages", "makemigrations", "spectacular"}
)
"""Commands that read the code and write files, never serve a request or sign anything: they
run in a fresh checkout or an image build, where no ``SECRET_KEY`` exists yet. ``check
--deploy`` is not one of them: it is the production checklist, and the missing key is on it."""


def signs_nothing(argv: list[str]) -> bool:
    command = argv[1] if len(argv) > 1 else ""
    return command in READS_ONLY_CODE and not (command == "check" and "--deploy" in argv)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stargate_portal.settings")
    if signs_nothing(sys.argv):
        # A key of their own, not the development one: nothing they make is ever verified.
        os.environ.setdefault("SECRET_KEY", "unused-by-commands-that-sign-nothing-" + "x" * 20)
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
