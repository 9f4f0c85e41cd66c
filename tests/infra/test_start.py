"""``manage.py start``: the production entry of every process, which cannot skip a step."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "stargate_portal.settings",
    "SECRET_KEY": "x" * 60 + "-a-long-random-production-key",
    "ALLOWED_HOSTS": "portal.eu",
    "SITE_URL": "https://portal.eu",
}
PROBE = [sys.executable, "-c", "import os; print('RAN', os.environ['PROMETHEUS_MULTIPROC_DIR'])"]


def _start(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    dropped = ("DEBUG", "SECURE_SSL_REDIRECT", "PROMETHEUS_MULTIPROC_DIR", "LOG_FORMAT")
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", "start", *args],
        cwd=ROOT,
        env=clean
        | PRODUCTION
        | {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "STATIC_ROOT": str(tmp_path / "static"),
            "CELERY_BROKER_URL": "memory://",
        }
        | env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_start_refuses_to_run_the_process_while_the_deploy_checklist_warns(tmp_path: Path) -> None:
    result = _start(tmp_path, "--release", "--", *PROBE, SITE_URL="http://portal.eu")

    assert result.returncode != 0
    assert "booking.W001" in result.stderr
    assert "RAN" not in result.stdout
    assert not (tmp_path / "static").exists()


def test_start_release_migrates_collects_static_files_then_becomes_the_process(
    tmp_path: Path,
) -> None:
    metrics = tmp_path / "metrics"
    result = _start(tmp_path, "--release", "--", *PROBE, PROMETHEUS_MULTIPROC_DIR=str(metrics))

    assert result.returncode == 0, result.stderr[-3000:]
    assert f"RAN {metrics}" in result.stdout
    assert metrics.is_dir()
    manifest = tmp_path / "static" / "staticfiles.json"
    assert '"css/portal.css": "css/portal.' in manifest.read_text()
    with sqlite3.connect(tmp_path / "db.sqlite3") as database:
        applied = database.execute("SELECT name FROM django_migrations WHERE app = 'booking'")
        assert ("0001_initial",) in applied.fetchall()


def test_a_worker_waits_for_the_migrations_and_gives_up_when_they_never_come(
    tmp_path: Path,
) -> None:
    result = _start(tmp_path, "--wait-seconds", "1", "--", *PROBE)

    assert result.returncode != 0
    assert "migrations are not applied" in result.stderr
    assert "RAN" not in result.stdout
