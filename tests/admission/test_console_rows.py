"""The console's queue and fair-share rows, written in Python for speed
(``booking.admission.console.rows``), say exactly what the template rows they replaced said:
the same markup, escaping, links, labels, numbers and ticks, in every language the site
offers. The templates below are those rows as they were in ``queue.html`` and
``fair_share.html``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.template import engines
from django.utils import translation

from accounts.models import User
from accounts.tiers import PriorityTier
from booking.admission.console.rows import fair_share_rows, link_maker, queue_rows
from booking.jobs.priority import FairShareRow
from booking.jobs.selectors import JobCounts
from booking.models import GpuType, Job, JobReason, JobState, Project

QUEUE_ROW = """{% load i18n job_display tier_display %}{% for job, tier in rows %}
          <tr id="queue-job-{{ job.pk }}">
            <td><input type="checkbox" name="jobs" value="{{ job.pk }}" id="tick-{{ job.pk }}" aria-labelledby="job-name-{{ job.pk }}"{% if job.pk in ticked %} checked{% endif %}></td>
            <td><a href="{% url 'jobs:job_detail' job.pk %}" id="job-name-{{ job.pk }}">{{ job.name }}</a><br><span class="muted">{{ job.submitted_by.email }}</span></td>
            <td><a href="{% url 'grants_console:project_detail' job.project_id %}">{{ job.project.name }}</a><br>{{ tier|tier_badge }}</td>
            <td>{% blocktranslate with gpus=job.gpus gpu=job.gpu_type.name walltime=job.walltime_minutes|minutes_label %}{{ gpus }} × {{ gpu }}, {{ walltime }}{% endblocktranslate %}</td>
            <td>{{ job|job_state_badge }}{% if job.reason %}<br><span class="muted">{{ job.reason|reason_label }}</span>{% endif %}</td>
            <td>{{ job.submitted_at|utc_time }}</td>
          </tr>
        {% endfor %}"""  # noqa: E501, RUF001 (the template's lines, as they were)

FAIR_SHARE_ROW = """{% load i18n tier_display %}{% for row, tier, counts in rows %}
        <tr>
          <th scope="row"><a href="{% url 'grants_console:project_detail' row.pk %}">{{ row.name }}</a><br><span class="muted">{{ row.organisation }}</span></th>
          <td>{{ tier|tier_badge }}</td>
          <td class="num">{{ row.decayed_usage_gpu_hours|floatformat:"1g" }}</td>
          <td class="num">{{ row.allocated_gpu_hours|floatformat:"0g" }}</td>
          <td class="num">{% if row.allocated_gpu_hours %}{{ row.fair_share|floatformat:"4" }}{% else %}—{% endif %}</td>
          <td class="num">{{ counts.pending }}</td>
          <td class="num">{{ counts.gpus_in_use }}</td>
        </tr>
      {% endfor %}"""  # noqa: E501

HOSTILE = "<b>\"Ω\" & 'x'</b>"


def _tight(html: str) -> str:
    """Markup without the template's indentation between tags."""
    return re.sub(r">\s+<", "><", html.strip())


def _template(source: str, **context: object) -> str:
    return _tight(engines["django"].from_string(source).render(context))


def _queue() -> list[tuple[Job, PriorityTier]]:
    h100 = GpuType(pk=1, name="H100")
    hostile_type = GpuType(pk=2, name=HOSTILE)
    jobs = [
        Job(
            pk=17,
            name="train-llm",
            project=Project(pk=3, name="Fjord LLM"),
            gpu_type=h100,
            submitted_by=User(pk=5, email="ada@uit.no"),
            gpus=8,
            walltime_minutes=90,
            state=JobState.PENDING,
            reason=JobReason.CAPACITY,
            submitted_at=datetime(2026, 12, 1, 23, 59, 30, tzinfo=UTC),
        ),
        Job(
            pk=123_456,
            name=HOSTILE,
            project=Project(pk=1999, name=HOSTILE),
            gpu_type=hostile_type,
            submitted_by=User(pk=6, email="o'brien+<x>@example.org"),
            gpus=1_024,
            walltime_minutes=60,
            state=JobState.RUNNING,
            reason="",
            submitted_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        ),
        Job(
            pk=18,
            name="held",
            project=Project(pk=3, name="Fjord LLM"),
            gpu_type=h100,
            submitted_by=User(pk=5, email="ada@uit.no"),
            gpus=2,
            walltime_minutes=45,
            state=JobState.HELD,
            reason="no_such_code",  # an unknown code is shown as it is
            submitted_at=datetime(2026, 12, 2, 0, 0, tzinfo=UTC),
        ),
    ]
    tiers = [
        PriorityTier.EUROPEAN_ACADEMIC,
        PriorityTier.INTERNATIONAL,
        PriorityTier.EUROPEAN_STARTUP,
    ]
    for job in jobs:
        job.project_id = job.project.pk
    return list(zip(jobs, tiers, strict=True))


def _fair_share() -> list[tuple[FairShareRow, PriorityTier, JobCounts]]:
    return [
        (
            FairShareRow(3, "Fjord LLM", "UiT", 1, 12_345.678, 100_000.0, 0.123456789),
            PriorityTier.EUROPEAN_ACADEMIC,
            JobCounts(pending=9_001, gpus_in_use=1_024),
        ),
        (
            FairShareRow(1999, HOSTILE, HOSTILE, 4, 0.05, 0.0, 0.0),
            PriorityTier.INTERNATIONAL,
            JobCounts(),
        ),
        (
            FairShareRow(7, "Small", "Startup AS", 2, 999.95, 1_000.5, 0.99995),
            PriorityTier.EUROPEAN_STARTUP,
            JobCounts(pending=1, gpus_in_use=0),
        ),
    ]


@pytest.mark.parametrize("language", ["en", "nb"])
def test_the_queue_rows_are_the_templates(language: str) -> None:
    rows = _queue()
    with translation.override(language):
        for ticked in (set(), {17, 123_456}, {18}):
            written = queue_rows(rows, ticked)

            assert _tight(written) == _template(QUEUE_ROW, rows=rows, ticked=ticked)
            assert written.count(" checked>") == len(ticked)
    assert "&lt;b&gt;&quot;Ω&quot; &amp; &#x27;x&#x27;&lt;/b&gt;" in written
    assert HOSTILE not in written


@pytest.mark.parametrize("language", ["en", "nb"])
def test_the_fair_share_rows_are_the_templates(language: str) -> None:
    rows = _fair_share()
    with translation.override(language):
        written = fair_share_rows(rows)

        assert _tight(written) == _template(FAIR_SHARE_ROW, rows=rows)
    assert written.count("<tr>") == 3
    assert "—" in written  # no allocation: no fair share
    assert HOSTILE not in written


def test_no_rows_write_nothing() -> None:
    assert queue_rows([], set()) == ""
    assert fair_share_rows([]) == ""


def test_a_link_maker_makes_the_links_reverse_makes() -> None:
    from django.urls import reverse

    job_link = link_maker("jobs:job_detail")

    for pk in (1, 42, 9_876_543_210_123, 10**15):
        assert job_link(pk) == reverse("jobs:job_detail", args=[pk])
