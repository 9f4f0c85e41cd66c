"""GET /healthz reports the database and the broker; 503 when either is down.

Anyone may call it: the body says "ok" or "unavailable" per check and nothing more, and the
reason a check failed is logged instead.
"""

import logging

import pytest
from django.db import connection
from django.test import Client

HEALTH_LOGGER = "stargate_portal.health"


@pytest.mark.django_db
def test_healthz_is_ok_when_database_and_broker_answer(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_unreachable(client: Client, settings, caplog) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    with caplog.at_level(logging.WARNING, logger=HEALTH_LOGGER):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "unavailable"},
    }
    assert "Error" not in response.content.decode()
    (record,) = [r for r in caplog.records if r.name == HEALTH_LOGGER]
    assert record.levelno == logging.WARNING
    assert "broker" in record.getMessage()
    assert record.exc_info is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_when_the_database_is_unreachable(client: Client, caplog) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL only: an in-memory SQLite test database cannot be disconnected.
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = 1
    try:
        with caplog.at_level(logging.WARNING, logger=HEALTH_LOGGER):
            response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict.update(saved)

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "broker": "ok"},
    }
    text = response.content.decode()
    assert "OperationalError" not in text
    assert "127.0.0.1" not in text
    assert "port 1" not in text
    (record,) = [r for r in caplog.records if r.name == HEALTH_LOGGER]
    assert record.levelno == logging.WARNING
    assert "OperationalError" in record.getMessage()
    assert record.exc_info is not None
    assert type(record.exc_info[1]).__name__ == "OperationalError"
