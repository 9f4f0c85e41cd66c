"""Django's database sessions, where a session key is only what Django makes one of.

Django reads the session of any cookie of eight characters or more from the database. A
cookie's value may be quoted with octal escapes (``"abcdefgh\\000"`` is a NUL once parsed),
and PostgreSQL keeps no NUL in text: such a cookie made every page and API call a 500 before
any view ran. Here a key of characters Django never puts in one is no session, as a key that
names none: the visitor is signed out, and a new session gets a new key.
"""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS

_KEY_CHARS = frozenset(VALID_KEY_CHARS)


class SessionStore(db.SessionStore):
    def _validate_session_key(self, key: str | None) -> bool:
        # Django's own check (eight characters or more) is not in django-stubs.
        valid = super()._validate_session_key(key)  # type: ignore[misc]
        return bool(valid) and set(key or "") <= _KEY_CHARS
