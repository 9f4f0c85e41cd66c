"""Why a job waits and how it may move: one list of reason codes (``JobReason``), which the
admission policy, every service and the database agree on, and one table of state moves
(``JOB_TRANSITIONS``), which the single and the bulk path both obey."""

import ast
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction
from django.template import Context, Template
from django.utils import translation

from accounts.models import User
from accounts.templatetags.tier_display import tier_badge
from booking.jobs.services import CANCELLABLE, REQUEUEABLE
from booking.jobs.transitions import job_transition, jobs_move
from booking.models import JOB_TRANSITIONS, Job, JobEvent, JobReason, JobState, Project
from booking.scheduler import WaitReason
from booking.templatetags.job_display import job_state_badge, reason_label
from stargate_portal.errors import Conflict
from tests.fixtures.jobs import queue

BOOKING = Path(__file__).resolve().parents[2] / "booking"
WRITERS = (BOOKING / "jobs", BOOKING / "admission")
"""The features that write a job's reason (on its row or in its history)."""
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


# -- the reason codes ------------------------------------------------------------------------


def test_every_reason_the_admission_policy_gives_is_a_job_reason() -> None:
    assert set(WaitReason) <= set(JobReason.values)
    assert len(WaitReason) == 7


class ReasonScan(ast.NodeVisitor):
    """The reason codes a module writes: ``reason=…`` in calls, ``….reason = …`` and
    ``reason = …``, and the values of ``…REASONS = {…}`` dicts. Literal codes and the
    ``JobReason`` members named are kept apart."""

    def __init__(self) -> None:
        self.literals: list[tuple[str, int, str]] = []
        self.members: set[str] = set()
        self.where = ""

    def note(self, node: ast.expr) -> None:
        """The codes ``node`` may evaluate to (a code, a member, either branch of a choice,
        ``JobReason(code)``); other calls compute something else (a form field's label)."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
            self.literals.append((self.where, node.lineno, node.value))
        elif isinstance(node, ast.Attribute) and _is_job_reason(node.value):
            self.members.add(node.attr)
        elif isinstance(node, ast.IfExp):
            self.note(node.body)
            self.note(node.orelse)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self.note(value)
        elif isinstance(node, ast.Call) and _is_job_reason(node.func):
            for argument in node.args:
                self.note(argument)

    def visit_Call(self, node: ast.Call) -> None:
        for keyword in node.keywords:
            if keyword.arg == "reason":
                self.note(keyword.value)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if _is_reason(target):
                self.note(node.value)
            elif (
                isinstance(target, ast.Name)
                and target.id.endswith("REASONS")
                and isinstance(node.value, ast.Dict)
            ):
                for value in node.value.values:
                    self.note(value)
        self.generic_visit(node)


def _is_reason(target: ast.expr) -> bool:
    """``reason`` or ``something.reason``."""
    if isinstance(target, ast.Attribute):
        return target.attr == "reason"
    return isinstance(target, ast.Name) and target.id == "reason"


def _is_job_reason(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "JobReason"


def python_files() -> Iterator[Path]:
    for folder in WRITERS:
        yield from sorted(folder.rglob("*.py"))


def scan_reasons() -> ReasonScan:
    scan = ReasonScan()
    for path in python_files():
        scan.where = str(path.relative_to(BOOKING.parent))
        scan.visit(ast.parse(path.read_text(), filename=scan.where))
    return scan


def test_every_reason_code_the_jobs_and_admission_code_writes_is_a_job_reason() -> None:
    scan = scan_reasons()

    unknown = [
        f"{where}:{line}: {code!r}"
        for where, line, code in scan.literals
        if code not in JobReason.values
    ]
    assert unknown == [], "reason codes missing from JobReason:\n" + "\n".join(unknown)
    assert scan.members <= set(JobReason.names), scan.members - set(JobReason.names)
    # The scan sees the writers it is meant to see: the submit, the staff hold, the cycle's
    # budget holds and refusals, the cluster's reports.
    assert {
        "PRIORITY",
        "HELD_BY_STAFF",
        "BUDGET_EXHAUSTED",
        "PROJECT_SUSPENDED",
        "NO_ALLOCATION",
        "NODE_FAILURE",
        "LOST",
        "REJECTED",
    } <= scan.members


def test_the_reason_scan_catches_an_unknown_code_in_each_place_it_looks() -> None:
    source = """
job.reason = "sleepy"
reason = "tired" if late else JobReason.BUDGET
job_transition(job, "held", message="m", reason="on_strike")
MY_REASONS = {"x": "bored"}
Job.objects.update(reason=JobReason("grumpy") or "")
reason = forms.CharField(label="Reason")
ledger_charge(key="k", gpu_hours=1, reason=str(job.uuid))
"""
    scan = ReasonScan()
    scan.visit(ast.parse(source))

    assert sorted(code for _where, _line, code in scan.literals) == [
        "bored",
        "grumpy",
        "on_strike",
        "sleepy",
        "tired",
    ]
    assert scan.members == {"BUDGET"}


@pytest.mark.django_db
def test_the_database_refuses_an_unknown_reason_on_a_job(
    alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.filter(pk=job.pk).update(reason="sleepy")

    job.refresh_from_db()
    assert job.reason == JobReason.PRIORITY


@pytest.mark.django_db
def test_the_database_refuses_an_unknown_reason_in_a_jobs_history(
    alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    with pytest.raises(IntegrityError), transaction.atomic():
        JobEvent.objects.create(
            job=job, from_state="pending", to_state="held", reason="sleepy", message="m"
        )

    assert list(job.events.values_list("reason", flat=True)) == ["priority"]


@pytest.mark.django_db
def test_the_database_takes_every_job_reason_and_no_reason(
    alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    for code in ["", *JobReason.values]:
        Job.objects.filter(pk=job.pk).update(reason=code)
        JobEvent.objects.create(job=job, to_state="pending", reason=code, message=code)

    assert job.events.count() == 1 + len(JobReason.values) + 1


@pytest.mark.parametrize("code", JobReason.values)
def test_each_reason_reads_as_its_label(code: str) -> None:
    rendered = Template("{% load job_display %}{{ code|reason_label }}").render(
        Context({"code": code})
    )

    assert rendered == str(JobReason(code).label)
    assert rendered != code


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("capacity", "GPUs busy"),
        ("budget_exhausted", "Budget exhausted"),
        ("held_by_staff", "Held by staff"),
        ("lost", "Lost by the cluster"),
        ("a_code_from_the_future", "a_code_from_the_future"),
    ],
)
def test_reason_labels_are_words_and_an_unknown_code_is_shown_as_it_is(
    code: str, label: str
) -> None:
    assert reason_label(code) == label


# -- the state moves -------------------------------------------------------------------------


def job_in(state: str, user: User, project: Project) -> Job:
    """A job put straight into ``state`` (the states without extra required fields)."""
    job = queue(user, project)
    Job.objects.filter(pk=job.pk).update(state=state)
    job.refresh_from_db()
    return job


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("from_state", "to_state"),
    [
        ("completed", "running"),
        ("completed", "pending"),
        ("pending", "running"),
        ("held", "admitted"),
        ("cancelled", "held"),
    ],
)
def test_a_move_the_table_forbids_is_refused_and_writes_nothing(
    alice: User, alice_project: Project, from_state: str, to_state: str
) -> None:
    job = job_in(from_state, alice, alice_project)
    events = job.events.count()

    with pytest.raises(Conflict) as refused:
        job_transition(job, to_state, message="Should not happen.")

    assert refused.value.code == "invalid_state"
    assert refused.value.details == {"state": from_state, "to": to_state}
    assert Job.objects.get(pk=job.pk).state == from_state
    assert job.events.count() == events


@pytest.mark.django_db
def test_an_allowed_move_saves_the_job_and_records_it_in_its_history(
    alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    job_transition(
        job, JobState.HELD, message="Held: testing.", at=AT, reason=JobReason.HELD_BY_STAFF
    )

    stored = Job.objects.get(pk=job.pk)
    assert (stored.state, stored.reason) == ("held", "held_by_staff")
    last = job.events.order_by("pk").last()
    assert last is not None
    assert (last.from_state, last.to_state, last.reason, last.message, last.at) == (
        "pending",
        "held",
        "held_by_staff",
        "Held: testing.",
        AT,
    )


@pytest.mark.django_db
def test_a_move_out_of_waiting_drops_the_reason_but_its_history_keeps_it(
    alice: User, alice_project: Project
) -> None:
    job = job_in("held", alice, alice_project)

    job_transition(job, JobState.CANCELLED, message="Gone.", reason=JobReason.HELD_BY_STAFF)

    assert Job.objects.get(pk=job.pk).reason == ""
    assert job.events.order_by("pk").last().reason == "held_by_staff"  # type: ignore[union-attr]


@pytest.mark.django_db
def test_the_bulk_move_moves_only_jobs_still_in_the_from_state_with_one_event_each(
    alice: User, alice_project: Project
) -> None:
    first, second, cancelled = (queue(alice, alice_project) for _ in range(3))
    Job.objects.filter(pk=cancelled.pk).update(state=JobState.CANCELLED)
    untouched = queue(alice, alice_project)
    before = {job.pk: job.events.count() for job in (first, second, cancelled, untouched)}

    moved = jobs_move(
        {first.pk: "first held", second.pk: "second held", cancelled.pk: "too late"},
        from_state=JobState.PENDING,
        to_state=JobState.HELD,
        at=AT,
        reason=JobReason.BUDGET_EXHAUSTED,
    )

    assert sorted(moved) == sorted([first.pk, second.pk])
    rows = dict(Job.objects.values_list("pk", "state"))
    assert rows == {
        first.pk: "held",
        second.pk: "held",
        cancelled.pk: "cancelled",
        untouched.pk: "pending",
    }
    for job, message in ((first, "first held"), (second, "second held")):
        assert job.events.count() == before[job.pk] + 1
        last = job.events.order_by("pk").last()
        assert last is not None
        assert (last.from_state, last.to_state, last.reason, last.message, last.at) == (
            "pending",
            "held",
            "budget_exhausted",
            message,
            AT,
        )
        assert Job.objects.get(pk=job.pk).reason == "budget_exhausted"
    assert cancelled.events.count() == before[cancelled.pk]
    assert untouched.events.count() == before[untouched.pk]


@pytest.mark.django_db
def test_the_bulk_move_refuses_a_move_the_table_forbids_and_writes_nothing(
    alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    with pytest.raises(Conflict) as refused:
        jobs_move({job.pk: "no"}, from_state=JobState.PENDING, to_state=JobState.RUNNING, at=AT)

    assert refused.value.code == "invalid_state"
    assert Job.objects.get(pk=job.pk).state == "pending"
    assert job.events.count() == 1


def test_cancellable_and_requeueable_states_are_those_the_table_allows() -> None:
    into_cancelled = {s for s, targets in JOB_TRANSITIONS.items() if "cancelled" in targets}
    into_pending = {s for s, targets in JOB_TRANSITIONS.items() if "pending" in targets}

    assert set(CANCELLABLE) == into_cancelled
    assert set(REQUEUEABLE) == into_pending - {"held"}  # a held job is released instead
    # What the job pages promise: pending, held and active jobs can be cancelled; every
    # stopped or ended job but a completed one can be run again.
    assert set(CANCELLABLE) == {"pending", "held", "admitted", "running"}
    assert set(REQUEUEABLE) == {"admitted", "running", "failed", "cancelled", "timeout", "rejected"}


@pytest.mark.parametrize("language", ["en", "nb"])
@pytest.mark.parametrize("state", [*JobState.values, "retired-state"])
def test_a_jobs_state_label_is_the_choice_label_or_the_raw_value(state: str, language: str) -> None:
    labels = dict(Job._meta.get_field("state").flatchoices)

    with translation.override(language):
        shown = Job(state=state).get_state_display()
        expected = str(labels.get(state, state))

    assert shown == expected
    assert type(shown) is str


def test_the_badges_made_once_per_language_follow_the_active_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The state, reason and tier badges are made once per value and language: switching the
    language back and forth must show each language's own words, never the first one's. (A
    stand-in catalogue marks each word with the active language.)"""

    def marked(message: str) -> str:
        return f"[{translation.get_language()}] {message}"

    monkeypatch.setattr(translation._trans, "gettext", marked, raising=False)
    shown: dict[str, list[tuple[str, str, str]]] = {}
    for language in ("de", "fr", "de", "fr"):  # languages no other test caches badges in
        with translation.override(language):
            badges = (
                job_state_badge(Job(state="pending")),
                reason_label("priority"),
                tier_badge(2),
            )
        shown.setdefault(language, []).append(badges)

    for language, (first, again) in shown.items():
        assert first == again
        state, reason, tier = first
        assert f"[{language}] Pending" in state
        assert reason == f"[{language}] Priority"
        assert f"[{language}] Tier 2" in tier
    assert job_state_badge(Job(state="retired-state")) == (
        '<span class="badge badge--job-retired-state">retired-state</span>'
    )
    assert reason_label("no-such-reason") == "no-such-reason"
