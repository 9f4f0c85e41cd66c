"""A test marked ``postgres`` and nothing else runs on the test database, even alone: the
marker used to bring its service check only, and pytest-django, which makes the test
database for the tests that name a database fixture when collected, left a run of such tests
on the development database (``tests/conftest.py``)."""

import pytest
from django.db import connection

pytestmark = pytest.mark.postgres


def test_a_test_marked_postgres_alone_runs_on_the_test_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (name,) = cursor.fetchone()

    assert name.startswith("test_")
    assert name == connection.settings_dict["NAME"]
