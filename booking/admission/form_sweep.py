"""Every form of the full-scale site posted with hostile input: the form sweep of ``make bench``.

Run ``DATABASE_URL=postgres://… python -m booking.admission.form_sweep`` after ``python -m
booking.admission.benchmark --keep`` (``make bench`` runs it between that and the load
benchmark). The forms act on what they post to (they hold, cancel, delete), so it works on a
copy of the kept site (``<name>_form_sweep``, ``CREATE DATABASE … TEMPLATE``, dropped at the
end), in a process of its own with the production settings (DEBUG off):

- as the load benchmark's member of the busiest project and as a staff member, it reads every
  page of the route sweep (``route_sweep``), portal, console and admin, and finds the forms on
  them that post (122 on the kept site);
- it posts each of them with every field set to one hostile value, for each value of
  ``HOSTILE_FORM_VALUES`` (NUL, 40 digits, -1, a date that is no date, markup with a quote,
  5,000 characters), logout forms left out;
- it prints how the answers were spread over the status codes, every answer of 500 or more
  (and then exits 1), every answer that sent a signed-in user to a sign-in page, and the
  slowest answers.

``make test`` posts the same values to the forms of the demo site
(``tests/admission/test_route_sweep.py``); this finds what only scale shows: an answer that is
slow because of what the site holds, or a 500 on a row the demo site does not have.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from urllib.parse import urljoin

from booking.admission.load_benchmark import _create_from, _drop, _environment, _sibling, kept_site

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
    copy = _sibling(url, "form_sweep")
    _drop(url, copy)
    _create_from(url, copy, template=kept)
    static_root = tempfile.mkdtemp(prefix="stargate-form-sweep-static-")
    # The production settings (hashed static names: collected first), the test client's host.
    environment = _environment(copy) | {
        "STATIC_ROOT": static_root,
        "ALLOWED_HOSTS": "testserver",
    }
    try:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput"],
            env=environment,
            check=True,
            capture_output=True,
        )
        done = subprocess.run(
            [sys.executable, "-m", "booking.admission.form_sweep", "--run"],
            env=environment,
            check=False,
        )
    finally:
        shutil.rmtree(static_root, ignore_errors=True)
        _drop(url, copy)
    return done.returncode


def _sweep() -> int:
    import django

    django.setup()
    # The refusals the sweep provokes are logged as warnings; a server error still is.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    from django.test import Client

    from accounts.models import User
    from booking.admission.load_benchmark import _prepare
    from booking.admission.route_sweep import posted_forms

    facts = _prepare()
    clients = {}
    for who, email in (
        ("member", "load-benchmark@example.org"),
        ("staff", "load-benchmark-staff@example.org"),
    ):
        clients[who] = Client(raise_request_exception=False)
        clients[who].force_login(User.objects.get(email=email))
    found: dict[tuple[str, str, tuple[str, ...]], None] = {}
    pages = 0
    for _route, who, path in facts["sweep"]:
        if who not in clients:
            continue
        page = clients[who].get(path)
        if page.status_code != 200 or not page["Content-Type"].startswith("text/html"):
            continue
        pages += 1
        for form in posted_forms(page.content.decode()):
            action = urljoin(path, form.action or path)
            if not action.endswith("/logout/"):  # would end the session of the rest
                found[(who, action, form.fields)] = None
    forms = sorted(found, key=lambda form: any(word in form[1] for word in TAKES_AWAY))
    answers: list[tuple[float, int, str, str, str]] = []
    signed_out = []
    for label, value in HOSTILE_FORM_VALUES.items():
        for who, action, fields in forms:
            started = time.perf_counter()
            response = clients[who].post(action, dict.fromkeys(fields, value))
            elapsed = (time.perf_counter() - started) * 1000
            answers.append((elapsed, response.status_code, label, who, action))
            if response.status_code == 302 and "login" in response.get("Location", ""):
                signed_out.append((label, who, action))
    statuses = Counter(status for _ms, status, *_rest in answers)
    failed = [answer for answer in answers if answer[1] >= 500]
    print(f"form sweep of the kept site ({facts['pending']:,} pending jobs)")
    print(f"  {len(forms)} forms on {pages} pages, {len(answers)} posts")
    print("  answers: " + ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items())))
    print(f"  answers of 500 or more: {len(failed) or 'none'}")
    for _ms, status, label, who, action in failed:
        print(f"    {status} {label:9} {who:6} {action}")
    print(f"  sent to a sign-in page: {len(signed_out) or 'none'}")
    for label, who, action in signed_out:
        print(f"    {label:9} {who:6} {action}")
    print(f"  the {SLOWEST_SHOWN} slowest answers (ms, status, value, who, form):")
    for ms, status, label, who, action in sorted(answers, reverse=True)[:SLOWEST_SHOWN]:
        print(f"    {ms:8.1f} {status} {label:9} {who:6} {action}")
    return 1 if failed or signed_out else 0


if __name__ == "__main__":
    raise SystemExit(main())
