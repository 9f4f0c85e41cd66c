"""The rows of the console's queue and fair-share tables, written in Python.

These two pages are the console's busiest (staff keep them open while the queue moves) and
their tables were most of their cost: Django's template engine spends about a quarter of a
millisecond on a queue row (two ``{% url %}``, a ``{% blocktranslate %}``, six filters, each
node resolved and localised) and about a tenth on a fair-share row, so 25 rows cost more than
the rest of the page. Here a row is one ``format_html`` call with the same markup, the same
filters called as functions, and each link built from one ``reverse`` per page
(``link_maker``); ``tests/admission/test_console_rows.py`` compares both against the
templates they replace. The tables' heads and everything around them stay in the templates.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from accounts.templatetags.tier_display import tier_badge
from accounts.tiers import PriorityTier
from booking.templatetags.job_display import (
    job_state_badge,
    minutes_label,
    reason_label,
    utc_time,
)

if TYPE_CHECKING:
    from booking.jobs.priority import FairShareRow
    from booking.jobs.selectors import JobCounts
    from booking.models import Job

_MARK = 9_876_543_210_123
"""A key no row has, put in a link by ``reverse`` and replaced by each row's own."""


def link_maker(name: str) -> Callable[[int], str]:
    """``reverse(name, args=[pk])`` for each of many keys at the cost of one ``reverse``: for
    routes whose only argument is an ``int`` key."""
    head, tail = reverse(name, args=[_MARK]).split(str(_MARK))
    return lambda pk: f"{head}{pk}{tail}"


QUEUE_ROW_FIELDS = (
    *("id", "name", "gpus", "walltime_minutes", "state", "reason", "submitted_at"),
    *("project_id", "project__id", "project__name", "gpu_type_id", "gpu_type__id"),
    *("gpu_type__name", "submitted_by_id", "submitted_by__id", "submitted_by__email"),
)
"""What ``queue_rows`` reads of a job and its project, GPU type and submitter: the page loads
only these (``QuerySet.only``), a third of the columns (the rows' fetch, conversion and
objects took 2.3 ms a page with every column, 1.5 ms with these)."""


def queue_rows(rows: Iterable[tuple[Job, PriorityTier]], ticked: Collection[int]) -> SafeString:
    """The queue's rows: a box to tick, the job and its submitter, the project and its tier,
    its size, state (and reason) and submit time (``QUEUE_ROW_FIELDS`` of each job)."""
    job_link = link_maker("jobs:job_detail")
    project_link = link_maker("grants_console:project_detail")
    return mark_safe(  # noqa: S308 (each row is format_html's: escaped)
        "".join(
            format_html(
                '<tr id="queue-job-{pk}">'
                '<td><input type="checkbox" name="jobs" value="{pk}" id="tick-{pk}"'
                ' aria-labelledby="job-name-{pk}"{checked}></td>'
                '<td><a href="{job_link}" id="job-name-{pk}">{name}</a><br>'
                '<span class="muted">{email}</span></td>'
                '<td><a href="{project_link}">{project}</a><br>{tier}</td>'
                "<td>{size}</td>"
                "<td>{state}{reason}</td>"
                "<td>{submitted}</td>"
                "</tr>",
                pk=job.pk,
                checked=mark_safe(" checked") if job.pk in ticked else "",
                job_link=job_link(job.pk),
                name=job.name,
                email=job.submitted_by.email,
                project_link=project_link(job.project_id),
                project=job.project.name,
                tier=tier_badge(tier),
                size=_("%(gpus)s × %(gpu)s, %(walltime)s")  # noqa: RUF001 (a multiplication)
                % {
                    "gpus": job.gpus,
                    "gpu": job.gpu_type.name,
                    "walltime": minutes_label(job.walltime_minutes),
                },
                state=job_state_badge(job),
                reason=format_html('<br><span class="muted">{}</span>', reason_label(job.reason))
                if job.reason
                else "",
                submitted=utc_time(job.submitted_at),
            )
            for job, tier in rows
        )
    )


def fair_share_rows(rows: Iterable[tuple[FairShareRow, PriorityTier, JobCounts]]) -> SafeString:
    """The fair-share table's rows: the project and its organisation, tier, decayed usage,
    allocation, fair share (a dash without an allocation), pending jobs and GPUs in use."""
    project_link = link_maker("grants_console:project_detail")
    return mark_safe(  # noqa: S308 (each row is format_html's: escaped)
        "".join(
            format_html(
                "<tr>"
                '<th scope="row"><a href="{link}">{name}</a><br>'
                '<span class="muted">{organisation}</span></th>'
                "<td>{tier}</td>"
                '<td class="num">{usage}</td>'
                '<td class="num">{allocated}</td>'
                '<td class="num">{share}</td>'
                '<td class="num">{pending}</td>'
                '<td class="num">{gpus}</td>'
                "</tr>",
                link=project_link(row.pk),
                name=row.name,
                organisation=row.organisation,
                tier=tier_badge(tier),
                usage=floatformat(row.decayed_usage_gpu_hours, "1g"),
                allocated=floatformat(row.allocated_gpu_hours, "0g"),
                share=floatformat(row.fair_share, "4") if row.allocated_gpu_hours else "—",
                pending=counts.pending,
                gpus=counts.gpus_in_use,
            )
            for row, tier, counts in rows
        )
    )
