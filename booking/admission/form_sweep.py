"""Hostile input on the full-scale site: every swept route with hostile query strings, then
every form posted with hostile values (``make bench``).

Run ``DATABASE_URL=postgres://… python -m booking.admission.form_sweep`` after ``python -m
booking.admission.benchmark --keep`` (``make bench`` runs it between that and the load
benchmark). The forms act on what they post to (they hold, cancel, delete), so it works on a
copy of the kept site (``<name>_form_sweep``, ``CREATE DATABASE … TEMPLATE``, dropped at the
end), in a process of its own with the production settings (DEBUG off):

- every GET route of the route sweep (``route_sweep``: portal, console, admin and API, each
  asked by its kind of user), with each value of ``HOSTILE_QUERY_VALUES`` in every parameter
  of ``QUERY_PARAMETERS``, then in every one but the list controls (``hostile_queries``);
- then, as the load benchmark's member of the busiest project and as a staff member, the forms
  that post on those pages (76 on the kept site in run 18), each posted with every field set to one
  value of ``HOSTILE_FORM_VALUES``, logout forms left out;
- each GET runs in a transaction rolled back after it, which counts the rows (and index
  entries) it read (``stargate_portal.postgresql.costs.rows_read``); every route is also asked
  once without a query string, to set those counts beside the hostile ones;
- for each part it prints how the answers spread over the status codes, every answer of 500 or
  more, every one that sent a signed-in user to a sign-in page and every GET that read more
  than ``ROWS_READ_MAX`` rows (any of them makes it exit 1), then the slowest answers and the
  GETs that read the most.

``make test`` sends the same values to the demo site (``tests/admission/test_route_sweep.py``);
this finds what only scale shows: an answer slow because of what the site holds, or a 500 on
a row the demo site does not have.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urljoin

from booking.admission.load_benchmark import kept_site, kept_site_copy

HOSTILE_QUERY_VALUES = {
    "superscript": "²",
    "digits": "9" * 40,
    "negative": "-1",
    "month-13": "2026-13-45",
    "year-9999": "9999-12-31",
    "nul": "\x00",
    "quote": "' OR 1=1 --",
    "long": "x" * 3000,
}
"""What a page may read from its query string by hand: "²" passes ``str.isdigit`` but not
``int``; 40 digits fit no column; 2026-13-45 is well formed but no date (Django's parsers
raise); 9999-12-31 plus a fortnight overflows; NUL is no text PostgreSQL keeps."""
QUERY_PARAMETERS = [
    *("page", "cursor", "project", "organisation", "call", "job", "booking", "state", "kind"),
    *("gpu_type", "gpus", "node_count", "hours", "tier", "from", "start", "q", "ordering"),
    *("section", "next", "year", "month", "since", "until", "format", "limit", "offset"),
]
"""The query parameters the site's pages and API read, each sent with the hostile value."""
LIST_CONTROLS = ("format", "ordering", "page", "cursor", "limit", "offset")
"""Parameters an API list refuses before it reads anything (an unknown ``format`` is a 404, an
unknown ``ordering`` a 400, a page that is no number a 404): sent with the others, they hide
how the list's filters take the value."""


def hostile_queries(value: str) -> list[dict[str, str]]:
    """The query strings a route gets for ``value``: every parameter set to it, then every
    parameter but the list controls (so the API's filters read it too)."""
    every = dict.fromkeys(QUERY_PARAMETERS, value)
    filters = {name: value for name, value in every.items() if name not in LIST_CONTROLS}
    return [every, filters]


HOSTILE_FORM_VALUES = {
    "nul": "\x00",
    "digits": "9" * 40,
    "negative": "-1",
    "month-13": "2026-13-45",
    "markup": "<b>x</b>' OR 1=1 --",
    "long": "x" * 5000,
}
"""What a person, or a script posting forms, may type into any field."""
TAKES_AWAY = ("delete", "leave", "cancel", "revoke", "remove", "withdraw")
"""Forms that take something away post last, so the others still find what they act on."""
SLOWEST_SHOWN = 15
ROWS_READ_MAX = 50_000
"""Rows one GET may read on the kept site (12,500 nodes, 160,000 queued jobs): a page of a
list, a project's figures or the busiest project's queue (about 9,000 jobs) stay well under
it; a filter or a parameter that makes a request walk the site's jobs does not. Counted, not
timed: the time of an answer on a shared two-core machine varies too much to fail on."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--run", action="store_true", help="post the forms (in the copy)")
    args = parser.parse_args(argv)
    if args.run:
        return _sweep()
    sites = kept_site("form sweep")
    if sites is None:
        return 0
    url, kept = sites
    with kept_site_copy(url, kept, "form_sweep") as environment:
        done = subprocess.run(
            [sys.executable, "-m", "booking.admission.form_sweep", "--run"],
            env=environment,
            check=False,
        )
    return done.returncode


def _sweep() -> int:
    import django

    django.setup()
    from django.test import Client

    from accounts.models import User
    from booking.admission.load_benchmark import site_prepare

    facts = site_prepare()
    # The refusals the sweep provokes are logged as warnings; a server error still is. (After
    # site_prepare: it sets Django up, and so the logging, again.)
    logging.getLogger("django.request").setLevel(logging.ERROR)
    print(f"hostile input on the kept site ({facts['pending']:,} pending jobs)")
    clients = {}
    for who, email in (
        ("member", "load-benchmark@example.org"),
        ("staff", "load-benchmark-staff@example.org"),
    ):
        clients[who] = Client(raise_request_exception=False)
        clients[who].force_login(User.objects.get(email=email))
    for who, token in (("token", facts["token"]), ("staff_token", facts["staff_token"])):
        clients[who] = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")

    # Every swept route, plain and with hostile query strings, first: the forms change the
    # site. Each in a transaction rolled back after it, which counts the rows it read.
    read: list[Answer] = []
    for _route, who, path in facts["sweep"]:
        read.append(answer(partial(clients[who].get, path), "none", who, path, rows=True))
    for label, value in HOSTILE_QUERY_VALUES.items():
        for query in hostile_queries(value):
            for _route, who, path in facts["sweep"]:
                get = partial(clients[who].get, path, query)
                read.append(answer(get, label, who, path, rows=True))
    routes = len(facts["sweep"])
    failed = report(
        f"{routes} routes, {len(read)} requests: each once plain, then with hostile query strings",
        read,
    )

    forms, pages = forms_of_pages(
        lambda who, path: clients[who].get(path),
        [(who, path) for _route, who, path in facts["sweep"]],
    )
    posted: list[Answer] = []
    for label, value in HOSTILE_FORM_VALUES.items():
        for who, action, fields in forms:
            data = dict.fromkeys(fields, value)
            posted.append(answer(partial(clients[who].post, action, data), label, who, action))
    failed |= report(f"{len(forms)} forms on {pages} pages, {len(posted)} posts", posted)
    return 1 if failed else 0


def forms_of_pages(
    get: Callable[[str, str], Any], routes: Iterable[tuple[str, str]]
) -> tuple[list[tuple[str, str, tuple[str, ...]]], int]:
    """The forms that post on the HTML pages of ``routes`` (``(who, path)``, read with
    ``get(who, path)``) a member or staff reads, as ``(who, where it posts, its fields)``:
    logout forms left out (they would end the session of the rest), those that take something
    away last. Also how many pages were read."""
    from booking.admission.route_sweep import posted_forms  # needs Django set up

    found: dict[tuple[str, str, tuple[str, ...]], None] = {}
    pages = 0
    for who, path in routes:
        if who not in ("member", "staff"):
            continue
        page = get(who, path)
        if page.status_code != 200 or not page["Content-Type"].startswith("text/html"):
            continue
        pages += 1
        for form in posted_forms(page.content.decode()):
            action = urljoin(path, form.action or path)
            if not action.endswith("/logout/"):
                found[(who, action, form.fields)] = None
    forms = sorted(found, key=lambda form: any(word in form[1] for word in TAKES_AWAY))
    return forms, pages


@dataclass(frozen=True)
class Answer:
    ms: float
    status: int
    value: str  # the hostile value's name
    who: str
    path: str
    signed_out: bool  # sent to a sign-in page
    rows: int | None = None  # rows it read (GETs), None when not counted


def answer(
    request: Callable[[], Any], value: str, who: str, path: str, *, rows: bool = False
) -> Answer:
    """``request`` timed; with ``rows``, in a transaction rolled back after it (a GET changes
    nothing the sweep needs) that counts the rows it read."""
    from django.db import connection, transaction

    from stargate_portal.postgresql.costs import rows_read

    read = None
    with transaction.atomic() if rows else nullcontext():
        before = rows_read() if rows else 0
        started = time.perf_counter()
        response = request()
        elapsed = (time.perf_counter() - started) * 1000
        if rows:
            # A request whose own query failed left the transaction unusable: not counted.
            read = None if connection.needs_rollback else rows_read() - before
            transaction.set_rollback(True)
    signed_out = response.status_code == 302 and "login" in response.get("Location", "")
    return Answer(elapsed, response.status_code, value, who, path, signed_out, read)


def report(title: str, answers: list[Answer]) -> bool:
    """Print the answers' spread, failures and slowest; True when any failed."""
    statuses = Counter(answer.status for answer in answers)
    failed = [answer for answer in answers if answer.status >= 500]
    signed_out = [answer for answer in answers if answer.signed_out]
    counted = [answer for answer in answers if answer.rows is not None]
    walked = [answer for answer in counted if (answer.rows or 0) > ROWS_READ_MAX]
    print(f"  {title}")
    print("    answers: " + ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items())))
    checks = [("answers of 500 or more", failed), ("sent to a sign-in page", signed_out)]
    if counted:
        checks.append((f"GETs that read more than {ROWS_READ_MAX:,} rows", walked))
    for name, shown in checks:
        print(f"    {name}: {len(shown) or 'none'}")
        for answer in shown:
            print(f"      {answer.status} {answer.value:11} {answer.who:11} {answer.path}")
    print(f"    the {SLOWEST_SHOWN} slowest (ms, status, value, who, path):")
    for answer in sorted(answers, key=lambda answer: -answer.ms)[:SLOWEST_SHOWN]:
        print(
            f"      {answer.ms:8.1f} {answer.status} {answer.value:11} {answer.who:11} "
            f"{answer.path[:90]}"
        )
    if counted:
        uncounted = len(answers) - len(counted)
        print(
            f"    the {SLOWEST_SHOWN} that read the most (rows, ms, status, value, who, path; "
            f"{uncounted} not counted):"
        )
        for answer in sorted(counted, key=lambda answer: -(answer.rows or 0))[:SLOWEST_SHOWN]:
            print(
                f"      {answer.rows:8,} {answer.ms:8.1f} {answer.status} {answer.value:11} "
                f"{answer.who:11} {answer.path[:80]}"
            )
    return bool(failed or signed_out or walked)


if __name__ == "__main__":
    raise SystemExit(main())
