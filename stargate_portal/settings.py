"""Settings, read from the environment (django-environ). Production-safe unless DEBUG is on."""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from stargate_portal.broker_config import PUBLISH_RETRY_POLICY, broker_transport_options
from stargate_portal.cache_config import cache_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
_DEV_SECRET_KEY = "insecure-dev-key-only-for-debug"  # noqa: S105 - refused below unless DEBUG
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY (the default key is accepted only with DEBUG=true).")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The portal's public address: e-mails have no request to take a host from, so their links are
# built on it. The default suits `make run`; `check --deploy` warns while production keeps it.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not SITE_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("SITE_URL must be a full address, e.g. https://portal.example.eu")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_countries",
    "django_htmx",
    "simple_history",
    "stargate_portal",
    "accounts",
    "booking",
]

MIDDLEWARE = [
    "stargate_portal.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "stargate_portal.input_limits.NulInputMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "stargate_portal.urls"
WSGI_APPLICATION = "stargate_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "booking.grants.portal.navigation.grants_navigation",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default has web, worker and beat writing at once: wait for the lock
    # instead of failing, take it at BEGIN, and let readers run beside the writer (WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    # Keep each worker's connection between requests (a new PostgreSQL connection costs more
    # than most requests); checked before reuse, so a restarted server is a fresh connection.
    # The URL's query string (?conn_max_age=…&conn_health_checks=…) still decides when given.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # The planner's price of a random page read against a sequential one. PostgreSQL's default
    # (4) is for spinning disks; on SSDs or a database held in memory (1.1) it stops walking
    # the primary key past other projects' rows to find one project's few (docs/deploy.md).
    # Sent as a connection option; empty sends none (behind a pooler that refuses startup
    # options, set it on the database: ALTER DATABASE … SET random_page_cost = 1.1).
    options = DATABASES["default"].setdefault("OPTIONS", {})
    if page_cost := env.str("DB_RANDOM_PAGE_COST", default="1.1").strip():
        given = options.get("options", "")
        options["options"] = f"{given} -c random_page_cost={float(page_cost):g}".strip()
    # How long a process waits for PostgreSQL to accept a connection: a database host that
    # drops packets would otherwise hold a web worker for the system's TCP timeout (minutes),
    # past gunicorn's. The request then gets a 503 (stargate_portal/database_errors.py).
    options.setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5))
    # Django's backend, but a connection attempt that failed slowly (a host that drops
    # packets) makes the process skip the server for DB_OUTAGE_SECONDS instead of making every
    # request wait DB_CONNECT_TIMEOUT for its 503 (stargate_portal/postgresql/base.py).
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "stargate_portal.postgresql"
    # How long a connection whose server stopped answering mid-request (a network partition,
    # a host gone without closing its sockets) is kept, in seconds (0: the system's, minutes
    # to hours; a Celery worker would wait that long on its task). The kernel probes a
    # connection that waits for an answer and gives up on data left unacknowledged; a healthy
    # server's kernel answers the probes however long its statement runs.
    if tcp_timeout := env.int("DB_TCP_TIMEOUT_SECONDS", default=10):
        options.setdefault("keepalives", 1)
        options.setdefault("keepalives_idle", max(1, tcp_timeout // 2))
        options.setdefault("keepalives_interval", max(1, tcp_timeout // 5))
        options.setdefault("keepalives_count", 3)
        options.setdefault("tcp_user_timeout", tcp_timeout * 1000)
    # The longest one statement may run, in milliseconds (0: no limit). The web process sets it
    # below its worker timeout (stargate_portal/gunicorn_conf.py), so a request stuck behind a
    # lock or a runaway plan gets a 503 and a rolled-back transaction instead of a killed
    # worker; the Celery workers (admission cycles, reports) keep the database's default.
    if statement_timeout := env.int("DB_STATEMENT_TIMEOUT_MS", default=0):
        given = options.get("options", "")
        options["options"] = f"{given} -c statement_timeout={statement_timeout}".strip()
DATABASES["default"].setdefault("TEST", {})
DB_OUTAGE_SECONDS = env.float("DB_OUTAGE_SECONDS", default=5.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "account_login"

# Registration, e-mail confirmation, password reset and login throttling: django-allauth.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("LOGIN_FAILED_RATE", default="10/m/ip,5/5m/key"),
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Stargate Portal] "

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Stargate Portal <noreply@stargate.eu>")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nb", "Norsk bokmål")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"

# A Redis cache (production) ignores its own outages: see stargate_portal/cache_config.py.
CACHES = {
    "default": cache_settings(
        env.cache("CACHE_URL", default="locmemcache://"),
        timeout_seconds=env.float("CACHE_TIMEOUT_SECONDS", default=0.5),
    )
}
# After a call to the shared cache failed, a process skips Redis this long (cache.py).
CACHE_OUTAGE_SECONDS = env.float("CACHE_OUTAGE_SECONDS", default=5.0)
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "stargate_portal.cache"

# Celery: an embedded broker by default (kombu's filesystem transport), redis:// in production.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_BROKER_DIR = VAR_DIR / "broker"
# A Redis broker's connect and command timeouts (stargate_portal/broker_config.py).
CELERY_BROKER_TIMEOUT_SECONDS = env.float("CELERY_BROKER_TIMEOUT_SECONDS", default=2.0)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else broker_transport_options(CELERY_BROKER_URL, timeout_seconds=CELERY_BROKER_TIMEOUT_SECONDS)
)
CELERY_TASK_PUBLISH_RETRY_POLICY = PUBLISH_RETRY_POLICY
# After a task could not be queued, a process queues nothing for this long (each task counted
# and logged as not queued): a broker that does not answer costs one request its timeouts.
CELERY_BROKER_OUTAGE_SECONDS = env.float("CELERY_BROKER_OUTAGE_SECONDS", default=5.0)
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("queue", "processed", "control"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(VAR_DIR / "celerybeat-schedule")
)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "accounts-expire-api-tokens": {
        "task": "accounts.tasks.api_tokens_purge_expired",
        "schedule": timedelta(hours=1),
    },
    # Work a broker outage kept from being queued is found again by these (task_enqueue.py).
    "accounts-outbox-send-due": {
        "task": "accounts.tasks.outbox_send_due",
        "schedule": timedelta(minutes=1),
    },
    "booking-low-balance-sweep": {
        "task": "booking.ledger.tasks.allocations_low_balance_sweep",
        "schedule": timedelta(minutes=10),
    },
    "booking-ledger-checkpoints": {
        "task": "booking.ledger.tasks.ledger_checkpoints_advance",
        "schedule": timedelta(minutes=15),
    },
}

CLUSTER_BACKEND = env.str("CLUSTER_BACKEND", default="simulator")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only, bounded in size and depth (stargate_portal/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["stargate_portal.api.parsers.BoundedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "stargate_portal.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "stargate_portal.api.filters.StrictOrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "stargate_portal.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "stargate_portal.api.throttling.AnonRateThrottle",
        "stargate_portal.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_ANON_RATE", default="60/min"),
        "user": env.str("API_USER_RATE", default="2000/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# The throttles count with django-ratelimit (stargate_portal/api/throttling.py), in the shared
# cache; they let requests through while it is down, like every other use of it.
RATELIMIT_FAIL_OPEN = True
RATELIMIT_CACHE_PREFIX = "throttle:"
# Input limits (docs/security.md): the largest JSON body and how deep it may nest.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=2**20)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=90),
    "AUTO_REFRESH": False,
    "TOKEN_PREFIX": "sgp_",
}
KNOX_TOKEN_MODEL = "accounts.ApiToken"  # noqa: S105 - a model name
# knox's own migrations create its default token table even though we swap it for
# accounts.ApiToken; without them, the swapped model is simply not created.
MIGRATION_MODULES = {"knox": None}
SPECTACULAR_SETTINGS = {
    "TITLE": "Stargate Portal API",
    "DESCRIPTION": (
        "GPU quota and booking platform of the Stargate Narvik data centre. Every error has the "
        'shape `{"code": "...", "message": "...", "details": {...}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "VerificationStateEnum": "accounts.models.VerificationState",
        "JoinRequestStateEnum": "accounts.models.JoinRequestState",
        "OrganisationKindEnum": "accounts.models.OrganisationKind",
        "MembershipRoleEnum": "accounts.models.MembershipRole",
        "CallStateEnum": "booking.models.CallStatus",
        "CallKindEnum": "booking.models.CallKind",
        "ApplicationStateEnum": "booking.models.ApplicationState",
        "ProjectStateEnum": "booking.models.ProjectState",
        "ProjectRoleEnum": "booking.models.ProjectRole",
        "LedgerEntryKindEnum": "booking.models.LedgerEntryKind",
        "ProjectAuditActionEnum": "booking.models.ProjectAuditAction",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "stargate_portal.api.schema.add_error_responses",
    ],
}

# Priority tiers: the European region and the age under which a company counts as a startup.
EUROPEAN_REGION = env.list(
    "EUROPEAN_REGION",
    default=[
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "NO",
        "IS",
        "LI",
        "CH",
        "GB",
    ],
)
STARTUP_MAX_AGE_YEARS = env.int("STARTUP_MAX_AGE_YEARS", default=7)

# Calls and energy: the site's power usage effectiveness, the cap of rolling-access requests,
# the largest PDF an application may attach, and when a balance counts as low.
SITE_PUE = env.float("SITE_PUE", default=1.1)
# Energy accounting: the factors in force before staff enter the first row in the console
# (SITE_PUE above, and these); idle power as a share of a GPU type's power_watts.
ENERGY_DEFAULT_FACTORS = {
    "renewable_share": "1",
    "renewable_gco2_per_kwh": "11",
    "residual_gco2_per_kwh": "300",
    "heat_reuse_share": "0",
    "heat_reuse_efficiency": "0",
    "comparison_gco2_per_kwh": "250",
    "comparison_grid": "EU average",
    "idle_power_share": "0.15",
}
# How long the public transparency page and its feed are cached (seconds).
ENERGY_PUBLIC_CACHE_SECONDS = env.int("ENERGY_PUBLIC_CACHE_SECONDS", default=600)
ROLLING_CALL_MAX_REQUEST_GPU_HOURS = env.int("ROLLING_CALL_MAX_REQUEST_GPU_HOURS", default=5_000)
APPLICATION_ATTACHMENT_MAX_BYTES = env.int("APPLICATION_ATTACHMENT_MAX_BYTES", default=10 * 2**20)
LOW_BALANCE_FRACTION = env.float("LOW_BALANCE_FRACTION", default=0.10)

# Jobs and admission ------------------------------------------------------------------------
# Limits of one job, the admission cycle (beat interval, debounce after a submit, fair-share
# half-life, tier caps, EASY-backfill test bound) and the simulated site's layout.
JOBS_MAX_GPUS = env.int("JOBS_MAX_GPUS", default=512)
JOBS_MAX_WALLTIME_MINUTES = env.int("JOBS_MAX_WALLTIME_MINUTES", default=48 * 60)
JOBS_SCRIPT_MAX_BYTES = env.int("JOBS_SCRIPT_MAX_BYTES", default=64 * 1024)
ADMISSION_CYCLE_SECONDS = env.float("ADMISSION_CYCLE_SECONDS", default=5.0)
ADMISSION_ON_SUBMIT = env.bool("ADMISSION_ON_SUBMIT", default=True)
ADMISSION_DEBOUNCE_SECONDS = env.float("ADMISSION_DEBOUNCE_SECONDS", default=1.0)
FAIR_SHARE_HALF_LIFE_DAYS = env.float("FAIR_SHARE_HALF_LIFE_DAYS", default=7.0)
# The console's fair-share table (every project) is computed at most once per admission cycle
# and per this many seconds of cluster time, then served from the cache.
FAIR_SHARE_TABLE_SECONDS = env.int("FAIR_SHARE_TABLE_SECONDS", default=60)
ADMISSION_TIER_CAPS = {4: env.float("ADMISSION_INTERNATIONAL_CAP", default=0.20)}
ADMISSION_BACKFILL_MAX_JOB_TEST = env.int("ADMISSION_BACKFILL_MAX_JOB_TEST", default=100)
# The cycle keeps its snapshot between runs and follows job events; it reloads in full when
# this old (a safety net for events it could not see, e.g. a very long-running transaction).
ADMISSION_SNAPSHOT_MAX_AGE_SECONDS = env.float("ADMISSION_SNAPSHOT_MAX_AGE_SECONDS", default=1800)
JOBS_RECONCILE_SECONDS = env.float("JOBS_RECONCILE_SECONDS", default=5.0)
# Reconcile asks the cluster only for what changed; its safety net checks every active job in
# full once in this many seconds, a slice per run (finds lost jobs and any change a cursor missed).
JOBS_RECONCILE_FULL_SECONDS = env.float("JOBS_RECONCILE_FULL_SECONDS", default=300.0)
# Simulated site: nodes of 8 GPUs per GPU type (GPU types themselves are data: GpuType rows).
# A frozen simulator clock moves only when stepped (``manage.py simulator_clock step``), for
# tests, demos and replays whose own processing time must not leak into the results.
SIMULATOR_CLOCK_FROZEN = env.bool("SIMULATOR_CLOCK_FROZEN", default=False)
SIMULATOR_SITE = env.dict("SIMULATOR_SITE", cast={"value": int}, default={"H100": 240, "H200": 120})
CELERY_BEAT_SCHEDULE.update(
    {
        "booking-admission-cycle": {
            "task": "booking.admission.tasks.admission_cycle_run",
            "schedule": timedelta(seconds=ADMISSION_CYCLE_SECONDS),
            "options": {"expires": ADMISSION_CYCLE_SECONDS},
        },
        "booking-jobs-reconcile": {
            "task": "booking.admission.tasks.jobs_reconcile",
            "schedule": timedelta(seconds=JOBS_RECONCILE_SECONDS),
            "options": {"expires": JOBS_RECONCILE_SECONDS},
        },
        "booking-admission-cycles-prune": {
            "task": "booking.admission.tasks.admission_cycles_prune",
            "schedule": timedelta(hours=1),
        },
    }
)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["JobStateEnum"] = "booking.models.JobState"  # type: ignore[index]
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["JobReasonEnum"] = "booking.models.JobReason"  # type: ignore[index]
# End of jobs and admission -----------------------------------------------------------------

# Slurm backend (CLUSTER_BACKEND=slurm) -------------------------------------------------------
# Where the cluster is, how the platform names what it creates there (accounts proj_<id>,
# jobs sp-<key>, reservations sp-<name>), where job output goes, the GPU-minute safety net
# behind the ledger and how long to wait for Slurm. README "Running against Slurm".
SLURM_CONF = env.str("SLURM_CONF", default="")
SLURM_BIN_DIR = env.str("SLURM_BIN_DIR", default="")
SLURM_CLUSTER = env.str("SLURM_CLUSTER", default="")
SLURM_PARTITION = env.str("SLURM_PARTITION", default="")
SLURM_QOS = env.str("SLURM_QOS", default="")
SLURM_ACCOUNT_PREFIX = env.str("SLURM_ACCOUNT_PREFIX", default="proj_")
SLURM_PARENT_ACCOUNT = env.str("SLURM_PARENT_ACCOUNT", default="stargate")
SLURM_SUBMIT_USER = env.str("SLURM_SUBMIT_USER", default="")
SLURM_JOB_NAME_PREFIX = env.str("SLURM_JOB_NAME_PREFIX", default="sp-")
SLURM_RESERVATION_PREFIX = env.str("SLURM_RESERVATION_PREFIX", default="sp-")
SLURM_OUTPUT_DIR = env.str("SLURM_OUTPUT_DIR", default=str(VAR_DIR / "slurm"))
SLURM_WORK_DIR = env.str("SLURM_WORK_DIR", default="")
SLURM_GRES_TYPES: dict[str, str] = env.dict("SLURM_GRES_TYPES", default={})
SLURM_CONTAINER_TEMPLATE = env.str("SLURM_CONTAINER_TEMPLATE", default="")
SLURM_CONTAINER_TEMPLATE_FILE = env.str("SLURM_CONTAINER_TEMPLATE_FILE", default="")
SLURM_COMMAND_TIMEOUT_SECONDS = env.float("SLURM_COMMAND_TIMEOUT_SECONDS", default=20.0)
SLURM_SUBMIT_CONCURRENCY = env.int("SLURM_SUBMIT_CONCURRENCY", default=4)
SLURM_BACKOFF_MAX_SECONDS = env.float("SLURM_BACKOFF_MAX_SECONDS", default=60.0)
SLURM_CAPACITY_CACHE_SECONDS = env.float("SLURM_CAPACITY_CACHE_SECONDS", default=2.0)
SLURM_LOOKBACK_DAYS = env.int("SLURM_LOOKBACK_DAYS", default=30)
SLURM_ACCOUNT_GPU_MINUTES_MARGIN = env.float("SLURM_ACCOUNT_GPU_MINUTES_MARGIN", default=0.10)
CLUSTER_ACCOUNTS_SYNC_SECONDS = env.float("CLUSTER_ACCOUNTS_SYNC_SECONDS", default=3600.0)
CELERY_BEAT_SCHEDULE["booking-energy-sweep"] = {
    # Jobs and bookings whose accounting task was never queued (broker down) or failed.
    "task": "booking.energy.tasks.energy_sweep",
    "schedule": timedelta(minutes=10),
}
CELERY_BEAT_SCHEDULE["booking-cluster-accounts-sync"] = {
    "task": "booking.grants.tasks.cluster_accounts_sync",
    "schedule": timedelta(seconds=CLUSTER_ACCOUNTS_SYNC_SECONDS),
}
# End of Slurm backend --------------------------------------------------------------------------
# Capacity bookings --------------------------------------------------------------------------
# Defaults of each GPU type's rules (staff change them per type in the console, audited): the
# bookable share of its nodes and how many days ahead each priority tier may book. The window
# rules, the refund period, how early the cluster sets the nodes aside, how often beat runs.
CAPACITY_POOL_SHARE = env.float("CAPACITY_POOL_SHARE", default=0.25)
CAPACITY_HORIZON_DAYS = env.dict(
    "CAPACITY_HORIZON_DAYS", cast={"value": int}, default={"1": 56, "2": 56, "3": 42, "4": 28}
)
CAPACITY_BOOKING_MIN_LEAD_HOURS = env.int("CAPACITY_BOOKING_MIN_LEAD_HOURS", default=1)
CAPACITY_BOOKING_MAX_HOURS = env.int("CAPACITY_BOOKING_MAX_HOURS", default=14 * 24)
CAPACITY_FULL_REFUND_HOURS = env.int("CAPACITY_FULL_REFUND_HOURS", default=24)
CAPACITY_AVAILABILITY_MAX_HOURS = env.int("CAPACITY_AVAILABILITY_MAX_HOURS", default=10 * 7 * 24)
# Before its start, a booking's nodes are set aside on the cluster: by default the longest
# walltime plus an hour, so no job placed on them is still running when the window opens.
CAPACITY_RESERVATION_LEAD_HOURS = env.int(
    "CAPACITY_RESERVATION_LEAD_HOURS", default=JOBS_MAX_WALLTIME_MINUTES // 60 + 1
)
CAPACITY_SWEEP_SECONDS = env.float("CAPACITY_SWEEP_SECONDS", default=60.0)
# How long before a booking's end its project is told that jobs still running will be stopped.
CAPACITY_ENDING_NOTICE_MINUTES = env.int("CAPACITY_ENDING_NOTICE_MINUTES", default=60)
CELERY_BEAT_SCHEDULE.update(
    {
        "booking-capacity-advance": {
            "task": "booking.capacity.tasks.bookings_advance",
            "schedule": timedelta(seconds=CAPACITY_SWEEP_SECONDS),
            "options": {"expires": CAPACITY_SWEEP_SECONDS},
        },
        "booking-capacity-site-nodes": {
            "task": "booking.capacity.tasks.capacity_site_nodes_refresh",
            "schedule": timedelta(minutes=10),
        },
    }
)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["BookingStateEnum"] = "booking.models.BookingState"  # type: ignore[index]
# End of capacity bookings -------------------------------------------------------------------

# Production hardening: on unless DEBUG.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = 0 if DEBUG else env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Database sessions whose keys are only Django's characters (a NUL in the cookie was a 500).
SESSION_ENGINE = "stargate_portal.sessions"
# Content-Security-Policy on every response (django-csp): scripts, styles, images and requests
# only from this site, no inline script or style (htmx and the Swagger UI are static files).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
SILENCED_SYSTEM_CHECKS: list[str] = []

SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]  # probes and scrapes talk plain HTTP

# Operations: queues, metrics and logs (docs/deploy.md) -------------------------------------
# Called by each gunicorn worker before its first request (stargate_portal/gunicorn_conf.py):
# work a page would otherwise do on some user's first request to that worker. Importing
# WeasyPrint to know whether the energy pages may offer a PDF took 0.8-1.2 s.
WEB_WARM_UP = ["booking.energy.statement.pdf_renderer_missing"]
# The cycle runs on its own queue, so one dedicated worker keeps its snapshot warm
# (Procfile: admission); make run's single worker consumes every queue.
CELERY_TASK_DEFAULT_QUEUE = "celery"
ADMISSION_QUEUE = "admission"
CELERY_TASK_ROUTES = {
    "booking.admission.tasks.admission_cycle_run": {"queue": ADMISSION_QUEUE},
}
# /metrics answers the bearer token, or a direct connection from these networks (CIDR).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list(
    "METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"] if DEBUG else []
)
# Where the processes of one machine share their metrics (``manage.py start`` sets
# PROMETHEUS_MULTIPROC_DIR to it unless the environment already does).
METRICS_DIR = env.path("PROMETHEUS_MULTIPROC_DIR", default=str(VAR_DIR / "metrics"))
METRICS_COLLECTORS = [
    "stargate_portal.metrics.BrokerQueues",
    "booking.admission.metrics.LastCycle",
    "booking.admission.metrics.ClusterCancelsWaiting",
]
# A request id a trusted proxy sends (e.g. X-Request-ID) becomes the correlation id.
REQUEST_ID_HEADER = env.str("REQUEST_ID_HEADER", default="")
# json: one JSON object per line (production); plain: readable lines (make run).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # workers log through LOGGING below

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "stargate_portal.logs.ContextFilter"},
        "once_a_minute": {"()": "stargate_portal.logs.OncePerInterval", "seconds": 60},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Our line per task replaces Celery's "received" and "succeeded" (failures included).
        "celery.app.trace": {"level": "CRITICAL"},
        "celery.worker.strategy": {"level": "WARNING"},
        # Our line per request replaces runserver's.
        "django.server": {"level": "WARNING"},
        # A cache outage fails every cache call: one line a minute says so.
        "stargate_portal.cache": {"filters": ["once_a_minute"]},
    },
}
