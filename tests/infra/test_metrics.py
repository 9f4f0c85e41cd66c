"""/metrics: who may read it, and what the platform records there.

These run in one process, where prometheus-client's own registry is what a scrape shows;
tests/infra/test_production_stack.py proves the same across gunicorn and Celery processes.
"""

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import REGISTRY

from accounts.models import User
from booking.admission import metrics as admission_metrics
from booking.ledger.services import ledger_adjust
from booking.models import ClusterCancel, Job, Project
from stargate_portal.celery import app as celery_app
from tests.fixtures.jobs import cycle, queue

TOKEN = "metrics-token-for-tests"
BEARER = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metrics_settings(settings: Any) -> Any:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    return settings


@pytest.fixture
def scrape(client: Client, metrics_settings: Any) -> Callable[[], str]:
    def run() -> str:
        response = client.get("/metrics", **BEARER)
        assert response.status_code == 200
        return response.content.decode()

    return run


# -- who may read it -------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_refuses_an_anonymous_caller_from_outside_the_allow_list(
    client: Client, metrics_settings: Any
) -> None:
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 403
    assert b"stargate_" not in response.content


@pytest.mark.django_db
def test_metrics_refuses_a_wrong_token(client: Client, metrics_settings: Any) -> None:
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 403


@pytest.mark.django_db
def test_production_allows_no_address_by_default_not_even_the_local_machine(
    client: Client, settings: Any
) -> None:
    # Behind a proxy on the same machine, every visitor would come from 127.0.0.1.
    assert settings.METRICS_ALLOWED_NETWORKS == []
    assert settings.METRICS_TOKEN == ""

    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.django_db
def test_metrics_answers_the_token_in_the_prometheus_text_format(
    client: Client, metrics_settings: Any
) -> None:
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", **BEARER)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE stargate_http_request_duration_seconds histogram" in response.content


@pytest.mark.django_db
def test_metrics_answers_a_direct_caller_from_an_allowed_network(
    client: Client, metrics_settings: Any
) -> None:
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200


@pytest.mark.django_db
def test_a_request_the_proxy_forwarded_needs_the_token_even_from_an_allowed_network(
    client: Client, metrics_settings: Any
) -> None:
    forwarded = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}

    assert client.get("/metrics", **forwarded).status_code == 403
    assert client.get("/metrics", **forwarded, **BEARER).status_code == 200


@pytest.mark.django_db
def test_metrics_and_healthz_answer_plain_http_while_pages_redirect_to_https(
    client: Client, metrics_settings: Any
) -> None:
    metrics_settings.SECURE_SSL_REDIRECT = True

    assert client.get("/accounts/login/").status_code == 301
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics", **BEARER).status_code == 200


# -- what it records -------------------------------------------------------------------------


@pytest.mark.django_db
def test_request_latency_is_recorded_by_view_method_and_status(scrape: Callable[[], str]) -> None:
    labels = {"view": "healthz", "method": "GET", "status": "200"}
    before = sample("stargate_http_request_duration_seconds_count", **labels)

    Client().get("/healthz")

    assert sample("stargate_http_request_duration_seconds_count", **labels) == before + 1
    assert 'stargate_http_request_duration_seconds_bucket{le="0.005",method="GET"' in scrape()


@pytest.mark.django_db
def test_an_unknown_address_is_one_label_not_one_per_path(client: Client) -> None:
    before = sample(
        "stargate_http_request_duration_seconds_count",
        view="unmatched",
        method="GET",
        status="404",
    )

    client.get("/no-such-page-1")
    client.get("/no-such-page-2")

    after = sample(
        "stargate_http_request_duration_seconds_count",
        view="unmatched",
        method="GET",
        status="404",
    )
    assert after == before + 2


@pytest.fixture
def gauges_every_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admission_metrics, "GAUGES_EVERY_SECONDS", 0.0)


@pytest.mark.django_db
def test_an_admission_cycle_records_its_duration_parts_and_admissions(
    alice: User,
    alice_project: Project,
    django_capture_on_commit_callbacks: Any,
    gauges_every_cycle: None,
) -> None:
    for _ in range(3):
        queue(alice, alice_project, gpus=8)
    cycles = sample("stargate_admission_cycle_duration_seconds_count")
    admissions = sample("stargate_admission_cycle_admissions_sum")
    policy = sample("stargate_admission_cycle_part_duration_seconds_count", part="policy")

    with django_capture_on_commit_callbacks(execute=True):
        report = cycle()

    assert len(report.admitted) == 3
    assert sample("stargate_admission_cycle_duration_seconds_count") == cycles + 1
    assert sample("stargate_admission_cycle_admissions_sum") == admissions + 3
    assert sample("stargate_admission_cycle_part_duration_seconds_count", part="policy") == (
        policy + 1
    )


@pytest.mark.django_db
def test_the_cycle_records_the_queue_and_the_gpus_by_tier_and_gpu_type(
    alice: User,
    alice_project: Project,
    charlie: User,
    charlie_project: Project,
    django_capture_on_commit_callbacks: Any,
    gauges_every_cycle: None,
) -> None:
    # 4 nodes of 8 H100: alice's three whole-node jobs run, charlie's two wait behind them.
    for _ in range(3):
        queue(alice, alice_project, gpus=8)
    with django_capture_on_commit_callbacks(execute=True):
        cycle()
    for _ in range(2):
        queue(charlie, charlie_project, gpus=16)

    with django_capture_on_commit_callbacks(execute=True):
        cycle()  # sees the queue as it was when it started

    assert sample("stargate_jobs_pending", tier="4", gpu_type="H100") == 2
    assert sample("stargate_jobs_pending", tier="1", gpu_type="H100") == 0
    assert sample("stargate_jobs_running", tier="1", gpu_type="H100") == 3
    assert sample("stargate_jobs_running", tier="4", gpu_type="H100") == 0
    assert sample("stargate_gpus", gpu_type="H100", state="in_use") == 24
    assert sample("stargate_gpus", gpu_type="H100", state="free") == 8
    assert sample("stargate_gpus", gpu_type="H100", state="unavailable") == 0


@pytest.mark.django_db
def test_a_cycle_that_finds_the_lock_taken_counts_a_lock_miss(
    alice_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import contextmanager

    from booking.admission import cycle as cycle_module

    @contextmanager
    def taken() -> Iterator[bool]:
        yield False

    monkeypatch.setattr(cycle_module, "cycle_lock", taken)
    before = sample("stargate_admission_cycle_lock_misses_total")

    assert cycle_module.admission_run() is None
    assert sample("stargate_admission_cycle_lock_misses_total") == before + 1


@pytest.mark.django_db
def test_ledger_movements_are_counted_by_kind_once_their_transaction_commits(
    alice_project: Project, h100: Any, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    before = sample("stargate_ledger_movements_total", kind="adjustment")
    hours_before = sample("stargate_ledger_gpu_hours_total", kind="adjustment")

    def adjust(gpu_hours: int, key: str) -> None:
        ledger_adjust(
            project=alice_project,
            gpu_type=h100,
            gpu_hours=Decimal(gpu_hours),
            key=key,
            actor=staff,
            reason="correction",
        )

    with django_capture_on_commit_callbacks(execute=True):
        adjust(-5, "adjust-1")

    def rolled_back() -> None:
        with transaction.atomic():
            adjust(7, "adjust-2")
            raise RuntimeError("the request failed after the movement")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        rolled_back()
    assert callbacks == []

    assert sample("stargate_ledger_movements_total", kind="adjustment") == before + 1
    assert sample("stargate_ledger_gpu_hours_total", kind="adjustment") == hours_before + 5


@pytest.mark.django_db
def test_a_scrape_never_reads_the_jobs_however_many_are_pending(
    alice: User,
    alice_project: Project,
    scrape: Callable[[], str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    template = queue(alice, alice_project, gpus=8)
    Job.objects.bulk_create(
        [Job(**_copy_of(template), name=f"bulk {n}") for n in range(500)], batch_size=500
    )
    with django_capture_on_commit_callbacks(execute=True):
        cycle()

    with CaptureQueriesContext(connection) as queries:
        exposition = scrape()

    assert "stargate_admission_last_cycle_timestamp_seconds" in exposition
    assert len(queries) <= 3, [q["sql"] for q in queries]
    assert not [q for q in queries if "booking_job" in q["sql"]]


@pytest.mark.django_db
def test_a_scrape_shows_the_cancels_the_cluster_has_not_taken_and_how_long_they_wait(
    scrape: Callable[[], str],
) -> None:
    assert _gauge(scrape(), "stargate_cluster_cancels_waiting") == 0
    assert _gauge(scrape(), "stargate_cluster_cancels_oldest_age_seconds") == 0
    ClusterCancel.objects.create(key="a.0")
    ClusterCancel.objects.create(key="b.0")
    ClusterCancel.objects.filter(key="a.0").update(
        requested_at=timezone.now() - timedelta(minutes=10)
    )

    exposition = scrape()

    assert _gauge(exposition, "stargate_cluster_cancels_waiting") == 2
    assert 600 <= _gauge(exposition, "stargate_cluster_cancels_oldest_age_seconds") < 660


def _gauge(exposition: str, name: str) -> float:
    (value,) = [
        float(line.split()[-1]) for line in exposition.splitlines() if line.startswith(name + " ")
    ]
    return value


def _copy_of(job: Job) -> dict[str, Any]:
    fields = ("project", "submitted_by", "gpu_type", "gpus", "walltime_minutes", "script")
    return {name: getattr(job, name) for name in fields}


@pytest.mark.django_db
def test_task_failures_are_counted_by_task_and_exception() -> None:
    @celery_app.task(name="tests.infra.always_fails")
    def always_fails() -> None:
        raise LookupError("nothing here")

    labels = {"task": "tests.infra.always_fails"}
    before = sample("stargate_celery_task_failures_total", **labels, exception="LookupError")

    always_fails.apply(throw=False)

    assert sample("stargate_celery_task_failures_total", **labels, exception="LookupError") == (
        before + 1
    )
    assert sample("stargate_celery_tasks_total", **labels, state="FAILURE") >= 1


@pytest.mark.django_db
def test_queue_lengths_are_read_from_the_broker_for_every_routed_queue(
    scrape: Callable[[], str],
) -> None:
    exposition = scrape()

    assert 'stargate_celery_queue_length{queue="celery"}' in exposition
    assert 'stargate_celery_queue_length{queue="admission"}' in exposition
    assert "stargate_celery_broker_up 1.0" in exposition
