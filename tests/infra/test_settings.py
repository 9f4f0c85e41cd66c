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


def _manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``manage.py`` with no ``SECRET_KEY`` and ``DEBUG`` off (unless ``env`` sets them)."""
    dropped = ("SECRET_KEY", "DEBUG")
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean | {"DJANGO_SETTINGS_MODULE": "stargate_portal.settings"} | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key() -> None:
    dropped = ("SECRET_KEY", "DEBUG")
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    served = subprocess.run(
        [sys.executable, "-c", "import stargate_portal.wsgi"],
        cwd=ROOT,
        env=clean | {"DJANGO_SETTINGS_MODULE": "stargate_portal.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    checked = _django_check({}, "--deploy")

    assert served.returncode != 0
    assert "Set SECRET_KEY" in served.stderr
    assert checked.returncode != 0
    assert "Set SECRET_KEY" in checked.stderr


def test_any_command_without_a_secret_key_says_why_instead_of_a_traceback() -> None:
    result = _manage("shell", "--no-imports", "-c", "print('ran')")

    assert result.returncode != 0
    assert "ran" not in result.stdout
    assert result.stderr.strip() == (
        "manage.py: Set SECRET_KEY (the default key is accepted only with DEBUG=true)."
    )


def test_commands_that_only_read_the_code_run_without_a_secret_key(tmp_path: Path) -> None:
    """A fresh checkout or an image build has no key: the migrations check, the static files
    and the system checks need none, and sign nothing."""
    migrations = _manage("makemigrations", "--check", "--dry-run")
    checked = _manage("check")
    collected = _manage("collectstatic", "--noinput", env={"STATIC_ROOT": str(tmp_path)})

    assert migrations.returncode == 0, migrations.stderr
    assert "No changes detected" in migrations.stdout
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout
    assert collected.returncode == 0, collected.stderr
    assert (tmp_path / "staticfiles.json").is_file()


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
    show = "from django.conf import settings; print(settings.SECRET_KEY)"
    result = _manage("shell", "--no-imports", "-c", show, env={"DEBUG": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "insecure-dev-key-only-for-debug"


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


DATABASE_ENVIRONMENT = (
    "DB_CONN_MAX_AGE",
    "DB_RANDOM_PAGE_COST",
    "DB_STATEMENT_TIMEOUT_MS",
    "DB_CONNECT_TIMEOUT",
    "DB_TCP_TIMEOUT_SECONDS",
    "DB_OUTAGE_SECONDS",
    "WEB_TIMEOUT",
    "CELERY_BROKER_URL",
    "CELERY_BROKER_TIMEOUT_SECONDS",
)


def _database_settings(
    database_url: str,
    show: str = "d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS']",
    **environment: str,
) -> str:
    """The production settings' CONN_MAX_AGE and CONN_HEALTH_CHECKS for ``database_url``
    (or what ``show`` says of the database settings ``d``)."""
    code = (
        "import django; django.setup(); from django.conf import settings; "
        f"d = settings.DATABASES['default']; print({show})"
    )
    env = {k: v for k, v in os.environ.items() if k not in DATABASE_ENVIRONMENT} | environment
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env
        | {
            "DJANGO_SETTINGS_MODULE": "stargate_portal.settings",
            "SECRET_KEY": "x" * 60,
            "DATABASE_URL": database_url,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


def test_postgresql_connections_are_kept_between_requests_unless_the_url_says_otherwise() -> None:
    # A new PostgreSQL connection per request costs more than most requests do.
    assert _database_settings("postgres://u@db:5432/stargate") == "60 True"
    assert _database_settings("postgres://u@db:5432/stargate?conn_max_age=5") == "5 True"
    assert _database_settings("sqlite:////tmp/x.sqlite3").split()[0] == "0"


def test_postgresql_connections_price_random_reads_as_on_ssds_unless_told_otherwise() -> None:
    show = "d.get('OPTIONS', {}).get('options')"
    url = "postgres://u@db:5432/stargate"

    assert _database_settings(url, show) == "-c random_page_cost=1.1"
    assert _database_settings(url, show, DB_RANDOM_PAGE_COST="4") == "-c random_page_cost=4"
    # Empty: nothing sent (a pooler that refuses startup options; set on the database).
    assert _database_settings(url, show, DB_RANDOM_PAGE_COST="") == "None"
    assert _database_settings("sqlite:////tmp/x.sqlite3", show) == "None"


def test_a_statement_timeout_is_sent_only_when_the_environment_sets_one() -> None:
    show = "d.get('OPTIONS', {}).get('options')"
    url = "postgres://u@db:5432/stargate"

    assert _database_settings(url, show) == "-c random_page_cost=1.1"  # workers: no limit
    assert (
        _database_settings(url, show, DB_STATEMENT_TIMEOUT_MS="15000")
        == "-c random_page_cost=1.1 -c statement_timeout=15000"
    )
    assert (
        _database_settings(url, show, DB_STATEMENT_TIMEOUT_MS="2500", DB_RANDOM_PAGE_COST="")
        == "-c statement_timeout=2500"
    )


def test_a_connection_attempt_gives_up_after_five_seconds_unless_told_otherwise() -> None:
    show = "d['OPTIONS'].get('connect_timeout')"
    url = "postgres://u@db:5432/stargate"

    assert _database_settings(url, show) == "5"
    assert _database_settings(url, show, DB_CONNECT_TIMEOUT="2") == "2"
    assert _database_settings(f"{url}?connect_timeout=9", show) == "9"  # the URL decides


def test_postgresql_is_served_by_the_backend_that_skips_a_silent_host() -> None:
    show = "d['ENGINE'], settings.DB_OUTAGE_SECONDS"
    url = "postgres://u@db:5432/stargate"

    assert _database_settings(url, show) == "stargate_portal.postgresql 5.0"
    assert _database_settings(url, show, DB_OUTAGE_SECONDS="2") == "stargate_portal.postgresql 2.0"
    assert _database_settings("sqlite:////tmp/x.db", show).startswith("django.db.backends.sqlite3")


def test_a_silent_server_is_given_up_after_the_tcp_timeout_unless_it_is_zero() -> None:
    keys = ("keepalives", "keepalives_idle", "keepalives_interval", "tcp_user_timeout")
    show = f"[d['OPTIONS'].get(key) for key in {keys!r}]"
    url = "postgres://u@db:5432/stargate"

    assert _database_settings(url, show) == "[1, 5, 2, 10000]"
    assert _database_settings(url, show, DB_TCP_TIMEOUT_SECONDS="30") == "[1, 15, 6, 30000]"
    assert _database_settings(url, show, DB_TCP_TIMEOUT_SECONDS="0") == "[None, None, None, None]"


def test_the_web_process_stops_a_statement_at_half_its_worker_timeout() -> None:
    """gunicorn reads its config before a worker loads the settings: the workers' connections
    then carry the statement timeout, the Celery workers' (which never read it) do not."""
    code = (
        "import os; from stargate_portal import gunicorn_conf; "
        "print(os.environ['DB_STATEMENT_TIMEOUT_MS'])"
    )

    def timeout_of(**environment: str) -> str:
        env = {k: v for k, v in os.environ.items() if k not in DATABASE_ENVIRONMENT}
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env | environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout.strip()

    assert timeout_of() == "15000"
    assert timeout_of(WEB_TIMEOUT="60") == "30000"
    assert timeout_of(DB_STATEMENT_TIMEOUT_MS="4000") == "4000"


def test_a_redis_broker_gives_up_on_a_command_after_its_timeout() -> None:
    """kombu's Redis transport waits forever on a broker that does not answer unless told."""
    options = "settings.CELERY_BROKER_TRANSPORT_OPTIONS"
    retries = "settings.CELERY_TASK_PUBLISH_RETRY_POLICY['max_retries']"
    url = "postgres://u@db:5432/stargate"

    def shown(show: str, broker: str, **environment: str) -> str:
        return _database_settings(url, show, CELERY_BROKER_URL=broker, **environment)

    timeouts = "{'socket_connect_timeout': %s, 'socket_timeout': %s}"
    assert shown(options, "redis://r:6379/0") == timeouts % (2.0, 2.0)
    assert shown(options, "rediss://r:6380/0", CELERY_BROKER_TIMEOUT_SECONDS="0.5") == (
        timeouts % (0.5, 0.5)
    )
    assert shown(options, "amqp://r//") == "{}"
    assert shown(retries, "redis://r:6379/0") == "1"  # Celery's default, 3, waits 4 times
