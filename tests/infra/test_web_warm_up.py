"""Each gunicorn worker calls ``WEB_WARM_UP`` before its first request
(``stargate_portal.gunicorn_conf.post_worker_init``): importing WeasyPrint for the energy
pages' PDF link took about a second of some user's first request to every worker. Then it
freezes what it holds out of the garbage collector's way."""

import gc
import logging
from collections.abc import Iterator
from typing import Any

import pytest
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


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """The test process is no worker: what a test froze is handed back to the collector."""
    yield
    gc.unfreeze()


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


def test_a_worker_freezes_what_it_holds_after_its_warm_ups() -> None:
    gc.unfreeze()
    held = [object()]  # a container: the collector tracks it
    assert any(obj is held for obj in gc.get_objects())

    with override_settings(WEB_WARM_UP=[f"{__name__}.record"]):
        gunicorn_conf.post_worker_init(Worker())

    assert gc.get_freeze_count() > 10_000  # the application's modules, classes, patterns …
    # … frozen: a full collection no longer walks them.
    assert not any(obj is held for obj in gc.get_objects())
