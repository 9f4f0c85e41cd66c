"""What each Procfile starts, and where the admission cycle is queued."""

import shlex
from pathlib import Path

from stargate_portal.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


def processes(procfile: str) -> dict[str, list[str]]:
    lines = (ROOT / procfile).read_text().splitlines()
    return {
        name.strip(): shlex.split(command)
        for name, command in (line.split(":", 1) for line in lines if line.strip())
    }


def test_the_admission_cycle_is_routed_to_its_own_queue_and_other_tasks_to_the_default() -> None:
    def queue_of(task: str) -> str:
        return str(celery_app.amqp.router.route({}, task)["queue"].name)

    assert queue_of("booking.admission.tasks.admission_cycle_run") == "admission"
    assert queue_of("booking.admission.tasks.jobs_reconcile") == "celery"
    assert queue_of("accounts.tasks.email_send") == "celery"


def test_production_runs_gunicorn_a_general_worker_one_admission_worker_and_beat() -> None:
    procfile = processes("Procfile")

    assert set(procfile) == {"web", "worker", "admission", "beat"}
    assert procfile["web"][:5] == ["python", "manage.py", "start", "--release", "--"]
    assert "gunicorn" in procfile["web"]
    assert "--queues=celery" in procfile["worker"]
    assert "--queues=admission" in procfile["admission"]
    assert "--concurrency=1" in procfile["admission"]
    assert "beat" in procfile["beat"]
    for name in ("worker", "admission", "beat"):
        assert procfile[name][:4] == ["python", "manage.py", "start", "--"], name


def test_make_run_starts_runserver_and_one_worker_for_every_queue() -> None:
    procfile = processes("Procfile.dev")

    assert "runserver" in procfile["web"]
    assert "--queues=celery,admission" in procfile["worker"]
    assert {"beat", "workload"} <= set(procfile)
