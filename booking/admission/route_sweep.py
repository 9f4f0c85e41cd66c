"""Every page and API read of the site, once each at full scale: the load benchmark's sweep.

The load benchmark drives the requests the issue names with 32 clients; this lists every other
GET route too (the resolver's, so a new page is swept without being added here), fills its
parameters with rows of the served site (the busiest project, a pending job deep in its queue,
that project's organisation, …) and says who asks: a member's token for the API, a staff
token for the staff API, a staff session for the console and the admin, a member's session
for the portal. ``load_benchmark`` sends each one a few times, one at a time, and prints the
slowest next to the demo site's, so a page that costs O(site) shows up in ``make bench``
whether or not anybody thought of it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser

from django.urls import URLPattern, URLResolver, get_resolver

from booking.models import Allocation, CapacityBooking, Job, Project


@dataclass(frozen=True)
class SweptRoute:
    route: str  # the pattern, as the resolver spells it (the key across sites)
    who: str  # "token", "staff_token", "staff" or "member"
    path: str  # the pattern with this site's rows in it


_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>[^)]*\)")
_NOT_A_PAGE = re.compile(
    r"^/(?:healthz|metrics)|^/accounts/|^/admin/(?:logout|autocomplete|r/|jsi18n)"
    r"|^/api/v1/calendar/|\.ics$"
)
"""Not a page a user reads, or reached only with a secret of its own in the path."""

# The row a path's ``pk`` names, by the word before it.
_KINDS = {
    "organisations": "organisation",
    "jobs": "job",
    "calls": "call",
    "applications": "application",
    "reviews": "application",
    "bookings": "booking",
    "projects": "project",
}
# The row an admin page's ``object_id`` names, by its model (its change, delete and history
# pages: a delete confirmation reads what protects the row from deletion).
_ADMIN_KINDS = {
    "project": "project",
    "organisation": "organisation",
    "allocation": "allocation",
    "application": "application",
    "call": "call",
    "capacitybooking": "booking",
    "user": "user",
    "gputype": "gpu_type_id",
}


def sweep_routes(rows: Mapping[str, object]) -> list[SweptRoute]:
    """The site's GET routes with ``rows`` in their parameters (kind -> primary key:
    ``project``, ``job``, ``organisation``, ``call``, ``application``, ``booking``,
    ``allocation``, ``user``, ``gpu_type_id``; and ``gpu_type`` and ``action`` by name); a
    route with a parameter no row fills is left out."""
    swept = []
    for route in _routes(get_resolver()):
        path = _filled("/" + route.replace("^", "").replace("$", ""), rows)
        if path is None or _NOT_A_PAGE.search(path):
            continue
        swept.append(SweptRoute(route, _who(path), path))
    return swept


def sweep_rows(project: Project, job: Job) -> dict[str, object]:
    """The rows a sweep asks for: ``project`` and what hangs off it, ``job`` (one of its), its
    submitter and its GPU type."""
    application = project.application
    return {
        "project": project.pk,
        "job": job.pk,
        "organisation": project.organisation_id,
        "application": project.application_id,
        "call": application.call_id if application else None,
        "allocation": Allocation.objects.filter(project=project)
        .values_list("pk", flat=True)
        .first(),
        "booking": CapacityBooking.objects.filter(project=project)
        .values_list("pk", flat=True)
        .first(),
        "gpu_type": job.gpu_type.name,
        "gpu_type_id": job.gpu_type_id,
        "user": job.submitted_by_id,
        "action": "hold",
    }


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def _filled(path: str, rows: Mapping[str, object]) -> str | None:
    def value(match: re.Match[str]) -> str:
        converter, name = match.group(1), match.group(2) or match.group(3)
        words = [w for w in path[: match.start()].split("/") if w and not w.isdigit()]
        if converter == "path" and name == "object_id" and words[:1] == ["admin"]:
            kind = _ADMIN_KINDS.get(words[-1], "")
        elif converter == "path":
            raise LookupError(name)
        elif name == "pk":
            kind = _KINDS.get(words[-1], "") if words else ""
        else:
            kind = name.removesuffix("_pk")
        if rows.get(kind) is None:
            raise LookupError(name)
        return str(rows[kind])

    try:
        filled = _PARAMETER.sub(value, path)
    except LookupError:
        return None
    return None if re.search(r"[(<\\]", filled) else filled


def _who(path: str) -> str:
    if path.startswith("/api/v1/staff/"):
        return "staff_token"
    if path.startswith("/api/"):
        return "token"
    if path.startswith(("/console/", "/admin/")):
        return "staff"
    return "member"


# -- the forms of a page ---------------------------------------------------------------------


@dataclass(frozen=True)
class PostedForm:
    action: str  # where the form posts ("" posts to the page itself)
    fields: tuple[str, ...]  # the names of its inputs, selects and text areas


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[PostedForm] = []
        self._open: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form" and (named.get("method") or "").lower() == "post":
            self._open = (html.unescape(named.get("action") or ""), [])
        elif (
            self._open is not None
            and tag in ("input", "select", "textarea")
            and named.get("name")
            and named.get("type") not in ("submit", "button")
        ):
            self._open[1].append(str(named["name"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._open is not None:
            action, fields = self._open
            self.forms.append(PostedForm(action, tuple(dict.fromkeys(fields))))
            self._open = None


def posted_forms(page: str) -> list[PostedForm]:
    """The forms of an HTML page that post, with the names of their fields."""
    parser = _Forms()
    parser.feed(page)
    return parser.forms
