"""Test settings: the production settings with test-only speed-ups.

DATABASE_URL and CELERY_BROKER_URL still come from the environment, so the same suite runs
on SQLite locally and on PostgreSQL + Redis in CI.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

from stargate_portal.settings import *  # noqa: F403

# Tests open, close and drop databases and run live servers in threads: one connection per
# request there, as before (production keeps them, see settings.py).
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run in-process in ordinary tests; tests/infra proves the real worker path on Redis.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
ACCOUNT_RATE_LIMITS = {"login_failed": "5/m/key"}
