"""Each gunicorn worker calls ``WEB_WARM_UP`` before its first request
(``stargate_portal.gunicorn_conf.post_worker_init``): importing WeasyPrint for the energy
pages' PDF link took about a second of some user's first request to every worker."""

import logging
from typing import Any

from django.conf import settings
from django.test import override_settings
from django.utils.module_loading import import_string

from booking.energy.statement import pdf_renderer_missing
from stargate_portal import gunicorn_conf

CALLED: list[str] = []


def record() -> None:
    CALLED.append("record")


def fail() -> None:
    raise RuntimeError("no fonts")


class Worker:
    log = logging.getLogger("tests.warm_up")


def test_the_warm_ups_are_callables_that_exist() -> None:
    assert settings.WEB_WARM_UP == ["booking.energy.statement.pdf_renderer_missing"]
    assert [import_string(name) for name in settings.WEB_WARM_UP] == [pdf_renderer_missing]


def test_a_worker_calls_each_warm_up_and_keeps_the_pdf_answer() -> None:
    pdf_renderer_missing.cache_clear()
    CALLED.clear()

    with override_settings(WEB_WARM_UP=[*settings.WEB_WARM_UP, f"{__name__}.record"]):
        gunicorn_conf.post_worker_init(Worker())

    assert CALLED == ["record"]
    assert pdf_renderer_missing.cache_info().currsize == 1  # the page reads the kept answer


def test_a_failing_warm_up_is_logged_and_the_worker_goes_on(caplog: Any) -> None:
    CALLED.clear()

    with override_settings(WEB_WARM_UP=[f"{__name__}.fail", f"{__name__}.record"]):
        gunicorn_conf.post_worker_init(Worker())

    assert CALLED == ["record"]
    assert [r.getMessage() for r in caplog.records if r.name == "tests.warm_up"] == [
        f"warm-up {__name__}.fail failed"
    ]
