"""End to end in a real browser: a member submits a GPU job and follows it to completion.

Flow: alice (University of Oslo, tier 1, PI of NorLLM with 1,000 H100 GPU-hours) opens "Submit
a job" → the budget preview follows her input (within budget; a too-large job "would exceed the
allocation") → she submits → the job page shows it pending with the reason and position → the
admission cycle admits it and the simulator runs it (as the job tests drive them) → the page, which
polls by itself, shows it running, then completed with its hold, release and charge.
Staff then see the cluster and hold a waiting job from the console queue (tick it, choose the
action, say why).
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from booking.cluster.simulator.backend import SimulatorBackend
from booking.jobs.services import job_cancel, job_submit
from booking.models import Job, JobState, LedgerEntry
from tests.fixtures.jobs import cycle, reconcile

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's password
SCRIPT = "#!/bin/bash\n# sim: runtime=30m exit=0\ntorchrun --nproc-per-node 4 pretrain.py\n"


@pytest.fixture(autouse=True)
def admission_only_when_the_test_runs_it(settings):
    """The test runs the admission cycle itself, so the pending state can be seen first."""
    settings.ADMISSION_ON_SUBMIT = False


def log_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")


def state_is(page, label: str) -> None:
    """Wait until the job page (polling every 3 s) shows this state."""
    page.get_by_role("heading", name=f"State: {label}").wait_for(timeout=20_000)


def test_a_member_submits_a_job_and_follows_it_to_completion(
    page,
    screenshot,
    alice,
    alice_project,
    sim: SimulatorBackend,
):
    log_in(page, "alice@uio.no")
    page.get_by_role("cell", name="NorLLM").wait_for()  # "My projects and jobs", by htmx
    screenshot("jobs-01-dashboard")

    page.get_by_role("link", name="Jobs", exact=True).click()
    page.get_by_text("You have no jobs yet.").wait_for()
    page.get_by_role("link", name="Submit your first job").click()
    page.get_by_role("heading", name="Submit a job").wait_for()
    page.wait_for_load_state()  # htmx binds its triggers once the page has loaded

    # The budget preview follows the input: too big first, then a job that fits.
    assert page.get_by_label("Project").input_value() == str(alice_project.pk)
    page.get_by_label("GPU type").select_option("H100")
    page.get_by_label("GPUs", exact=True).fill("64")
    page.get_by_label("Walltime").fill("48h")
    page.get_by_text("Would exceed the allocation.").wait_for()
    assert "This job needs 3,072 GPU-hours of H100" in page.locator("#budget-preview").inner_text()
    screenshot("jobs-02-submit-would-exceed")
    page.get_by_label("GPUs", exact=True).fill("4")
    page.get_by_label("Walltime").fill("2h")
    page.get_by_text("this job holds 8 GPU-hours of H100").wait_for()
    preview = page.locator("#budget-preview").inner_text()
    assert "Within budget." in preview
    assert "992 GPU-hours" in preview  # available after admission
    page.get_by_label("Name").fill("norllm-pretrain")
    page.get_by_label("Batch script").fill(SCRIPT)
    page.get_by_label("Environment").fill("EPOCHS=3\nWANDB_MODE=offline")
    screenshot("jobs-03-submit-within-budget")
    page.get_by_role("button", name="Submit the job").click()

    # Pending: why it waits, its position, and nothing held yet.
    page.get_by_text("Your job is queued.").wait_for()
    state_is(page, "Pending")
    main = page.inner_text("main")
    assert "Why it waits: It is new in the H100 queue: the next admission cycle" in main
    assert "Position in the H100 queue\nKnown within 5 seconds" in main
    assert "Nothing held or charged yet." in main
    job = Job.objects.get()
    assert (job.gpus, job.walltime_minutes, job.environment) == (
        4,
        120,
        {"EPOCHS": "3", "WANDB_MODE": "offline"},
    )
    screenshot("jobs-04-job-pending")

    # The admission cycle admits it, the simulator starts it; the page follows by itself.
    cycle()
    reconcile()
    state_is(page, "Running")
    assert f"job-{job.uuid}-hold" in page.locator("table.ledger").inner_text()
    screenshot("jobs-05-job-running")

    # Its scripted 30 minutes pass on the simulated cluster.
    sim.advance(timedelta(minutes=31))
    reconcile()
    state_is(page, "Completed")
    ledger = page.locator("table.ledger").inner_text()
    for kind, hours in (("Hold", "8"), ("Release", "-8"), ("Charge", "2")):
        assert f"{kind}\t{hours}\tjob-{job.uuid}-{kind.lower()}" in ledger
    main = page.inner_text("main")
    assert "Runtime\n30 min" in main
    assert "Cancel the job" not in main
    screenshot("jobs-06-job-completed")
    entries = LedgerEntry.objects.filter(idempotency_key__startswith=f"job-{job.uuid}-")
    assert sorted(entries.values_list("kind", "gpu_hours")) == [
        ("charge", Decimal("2.0000")),
        ("hold", Decimal("8.0000")),
        ("release", Decimal("-8.0000")),
    ]

    page.get_by_role("link", name="My jobs").click()
    page.get_by_role("cell", name="Completed").wait_for()
    screenshot("jobs-07-my-jobs")
    page.goto(f"/projects/{alice_project.pk}/")
    page.get_by_role("heading", name="Burn rate").wait_for()  # the jobs section, by htmx
    assert "H100\t2\t2\t0.1\t0" in page.locator("table.burn-rate").inner_text()
    screenshot("jobs-08-project-jobs-and-burn-rate")


def test_staff_see_the_cluster_and_hold_a_waiting_job(
    page,
    screenshot,
    alice,
    alice_project,
    charlie,
    charlie_project,
    staff,
):
    for name, gpus in (("big-run", 24), ("sweep", 8)):
        job_submit(
            user=alice,
            project=alice_project,
            gpu_type_name="H100",
            gpus=gpus,
            walltime_minutes=240,
            name=name,
            script=SCRIPT,
        )
    cycle()
    reconcile()
    for user, project, name in ((alice, alice_project, "eval"), (charlie, charlie_project, "acme")):
        job_submit(
            user=user,
            project=project,
            gpu_type_name="H100",
            gpus=16,
            walltime_minutes=120,
            name=name,
            script=SCRIPT,
        )
    cycle()

    log_in(page, "staff@stargate.eu")
    page.get_by_role("link", name="Console").click()
    page.get_by_role("link", name="Cluster and queue").click()
    page.get_by_role("heading", name="Cluster", exact=True).wait_for()
    assert page.locator("svg.chart__svg rect").count() >= 3
    assert "32 of 32 GPUs in use, 0 free; 2 jobs pending." in page.inner_text("main")
    screenshot("jobs-09-console-cluster")

    page.get_by_role("link", name="Queue", exact=True).click()
    jobs = page.locator('input[type="checkbox"][name="jobs"]')
    assert jobs.count() == 4
    page.get_by_role("checkbox", name="Tick every job on this page").check()
    assert all(jobs.nth(n).is_checked() for n in range(4))
    page.get_by_role("checkbox", name="Tick every job on this page").uncheck()
    assert not any(jobs.nth(n).is_checked() for n in range(4))
    page.get_by_role("checkbox", name="acme").check()
    page.get_by_label("Action").select_option("hold")
    page.get_by_role("button", name="Apply to the ticked jobs").click()
    # Holding needs a reason: the page says so next to it and keeps the tick and the choice.
    page.get_by_text("Say why: the projects see the reason.").wait_for()
    assert page.get_by_role("checkbox", name="acme").is_checked()
    assert not page.get_by_role("checkbox", name="eval").is_checked()
    assert Job.objects.get(name="acme").state == JobState.PENDING
    page.get_by_label("Reason").fill("Export control check")
    page.get_by_role("button", name="Apply to the ticked jobs").click()
    page.get_by_text("1 job is held.").wait_for()
    assert Job.objects.get(name="acme").state == JobState.HELD
    assert Job.objects.get(name="eval").state == JobState.PENDING
    screenshot("jobs-10-console-queue")

    page.get_by_role("link", name="Fair share").click()
    page.get_by_role("link", name="Acme LLM").wait_for()
    screenshot("jobs-11-console-fair-share")


def test_my_jobs_follows_its_waiting_rows_with_one_request_per_poll(
    page, screenshot, alice, alice_project
):
    jobs = [
        job_submit(
            user=alice,
            project=alice_project,
            gpu_type_name="H100",
            gpus=4,
            walltime_minutes=60,
            name=name,
            script=SCRIPT,
        ).job
        for name in ("first-run", "second-run", "third-run")
    ]
    polls: list[str] = []
    page.on("request", lambda request: "/jobs/rows/" in request.url and polls.append(request.url))
    log_in(page, "alice@uio.no")
    page.goto("/jobs/")
    rows = page.locator("tbody#job-rows tr")
    assert rows.count() == 3

    # A job cancelled elsewhere (the API, another tab) changes its row by itself.
    job_cancel(job=jobs[1], user=alice)
    rows.filter(has_text="second-run").filter(has_text="Cancelled").wait_for(timeout=15_000)
    assert [row.split("\t")[0] for row in rows.all_inner_texts()] == [
        "third-run",
        "second-run",
        "first-run",
    ]
    assert "Pending" in rows.filter(has_text="first-run").inner_text()
    screenshot("jobs-12-my-jobs-live")
    # One request per poll for the three rows, not one per row.
    assert polls
    assert all(url.count("job=") == 3 for url in polls)

    # Once every row is final, the list stops asking.
    for job in (jobs[0], jobs[2]):
        job_cancel(job=job, user=alice)
    page.locator("tbody#job-rows").filter(has_not_text="Pending").wait_for(timeout=15_000)
    asked = len(polls)
    page.wait_for_timeout(6_000)
    assert len(polls) == asked


def test_the_job_page_says_when_it_cannot_reach_the_portal_and_recovers_by_itself(
    page, screenshot, alice, alice_project
):
    """The page polls for its job's state. When a poll fails (the network drops, or the portal
    answers 503 during an outage) it keeps what it showed, a notice says why it may be out of
    date, and the next poll that works takes the notice away: the researcher is never left
    looking at a stale state in silence."""
    job = job_submit(
        user=alice,
        project=alice_project,
        gpu_type_name="H100",
        gpus=4,
        walltime_minutes=60,
        name="outage-watch",
        script=SCRIPT,
    ).job
    log_in(page, "alice@uio.no")
    page.goto(f"/jobs/{job.pk}/")
    state_is(page, "Pending")
    notice = page.locator("#connection-notice")
    assert notice.is_hidden()
    live = f"**/jobs/{job.pk}/live/"

    page.route(live, lambda route: route.abort("internetdisconnected"))
    notice.wait_for(state="visible", timeout=10_000)
    assert "cannot be reached" in notice.inner_text()
    state_is(page, "Pending")  # what it showed stays
    screenshot("jobs-13-job-page-offline")

    page.unroute(live)
    page.route(
        live,
        lambda route: route.fulfill(status=503, content_type="text/html", body="unavailable"),
    )
    page.get_by_text("The portal is unavailable just now").wait_for(timeout=10_000)
    state_is(page, "Pending")

    # The portal answers again; the job was cancelled meanwhile: the page catches up.
    page.unroute(live)
    job_cancel(job=job, user=alice)
    state_is(page, "Cancelled")
    notice.wait_for(state="hidden", timeout=10_000)
