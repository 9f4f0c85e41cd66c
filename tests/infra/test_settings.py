"""Settings come from the environment and are production-safe when DEBUG is off."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _django_check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    dropped = ("SECRET_KEY", "DEBUG", "SECURE_SSL_REDIRECT", "SITE_URL")
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT,
        env=clean | {"DJANGO_SETTINGS_MODULE": "stargate_portal.settings"} | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = _django_check({})
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_production_settings_pass_the_deploy_checklist() -> None:
    result = _django_check(
        {
            "SECRET_KEY": "x" * 60 + "-a-long-random-production-key",
            "ALLOWED_HOSTS": "portal.eu",
            "SITE_URL": "https://portal.eu",
        },
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_debug_mode_accepts_the_development_key() -> None:
    result = _django_check({"DEBUG": "true"})
    assert result.returncode == 0, result.stderr


def test_the_deploy_checklist_warns_while_e_mail_links_would_point_at_the_default_site() -> None:
    result = _django_check(
        {"SECRET_KEY": "x" * 60 + "-a-long-random-production-key", "ALLOWED_HOSTS": "portal.eu"},
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode != 0
    assert "booking.W001" in result.stderr
    assert "SITE_URL is http://127.0.0.1:8000" in result.stderr


def test_a_site_url_without_its_scheme_is_refused() -> None:
    result = _django_check({"DEBUG": "true", "SITE_URL": "portal.eu"})
    assert result.returncode != 0
    assert "SITE_URL must be a full address" in result.stderr
