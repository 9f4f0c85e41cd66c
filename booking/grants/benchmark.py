"""A call of thousands of applications under review, on PostgreSQL: the staff's ranking pages
and the reviewers' inboxes.

Run ``DATABASE_URL=postgres://… python -m booking.grants.benchmark [--applications 3000]``.
It creates a scratch database ``<name>_grants_bench`` next to the one DATABASE_URL names
(dropped at the end unless ``--keep``), migrates it and fills it: 200 organisations of every
tier with a member each, one call of ``--applications`` submitted applications (one or two GPU
types requested, the texts of a real one), each reviewed by three of 30 reviewers on three
criteria, and a second, small call. Then it times, each the median of ``--repeat`` runs, with
the number of queries of one run:

- ``ranked_applications`` of the large call (the ranking's selector);
- the console's call page (the ranking, 25 a page) on its first and its last page;
- ``GET /api/v1/staff/calls/<id>/ranking/`` (the whole ranking, as an integrator reads it);
- ``GET /api/v1/staff/applications/?call=<id>`` (a page of the call's applications);
- a reviewer's inbox: ``GET /api/v1/reviews/`` and the portal's ``/reviews/``;
- the console's review page of one application.

The same requests on the small call (10 applications) are printed beside them, so the ratio
shows what the call's size costs.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from stargate_portal.scratch_databases import postgres_url_or_skip, scratch_django_database

ORGANISATIONS = 200
REVIEWERS = 30
REVIEWS_PER_APPLICATION = 3
SMALL_CALL = 10
TEXT = "A paragraph of the case for support, as applicants write them. " * 40


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--applications", type=int, default=3_000, help="in the large call")
    parser.add_argument("--repeat", type=int, default=7, help="runs per timed request")
    parser.add_argument("--seed", type=int, default=5, help="random seed")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    url = postgres_url_or_skip("grants benchmark")
    if url is None:
        return 0
    # The pages name their static files from this empty folder (whitenoise warns without one).
    static = {"STATIC_ROOT": tempfile.mkdtemp(prefix="stargate-grants-bench-")}
    with scratch_django_database(url, "grants_bench", keep=args.keep, env=static):
        for line in run(applications=args.applications, repeat=args.repeat, seed=args.seed):
            print(line, flush=True)
    return 0


def run(*, applications: int, repeat: int, seed: int = 5) -> list[str]:
    """Build the site in the current database, then time the requests on both calls."""
    from django.conf import settings
    from django.db import connection

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    # The pages name their static files without the production manifest (no collectstatic).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    started = time.perf_counter()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    site = build_site(applications=applications, chooser=random.Random(seed))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have, after the bulk inserts
    lines = [
        f"load before: {load}",
        f"site: {ORGANISATIONS} organisations, a call of {applications:,} applications under "
        f"review ({REVIEWS_PER_APPLICATION} reviews of 3 criteria each, {REVIEWERS} reviewers) "
        f"and a call of {SMALL_CALL}",
        f"database build: {time.perf_counter() - started:.1f} s",
        f"{'request':<44} {'small call':>22} {'large call':>24}",
    ]
    for name, (small, large) in _timed(site, repeat).items():
        lines.append(f"{name:<44} {small:>22} {large:>24}")
    lines.append("load after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return lines


def build_site(*, applications: int, chooser: random.Random) -> dict[str, Any]:
    """Organisations, members, reviewers and the two calls, by ``bulk_create``."""
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from accounts.models import Membership, Organisation, OrganisationKind, User
    from booking.grants.services.reviews import review_sums_store
    from booking.models import (
        REVIEWERS_GROUP,
        Application,
        ApplicationRequest,
        ApplicationState,
        Call,
        CallPool,
        GpuType,
        ReviewAssignment,
        ReviewCriterion,
        ReviewScore,
    )

    now = timezone.now()
    gpu_types = [  # the site's own, when it has them (the kept admission benchmark site)
        GpuType.objects.get_or_create(name=name, defaults={"memory_gb": 80, "power_watts": 700})[0]
        for name in ("H100", "H200")
    ]
    kinds = [
        OrganisationKind.UNIVERSITY,
        OrganisationKind.COMPANY,
        OrganisationKind.RESEARCH_INSTITUTE,
    ]
    organisations = Organisation.objects.bulk_create(
        Organisation(
            name=f"Organisation {n}",
            kind=kinds[n % len(kinds)],
            country="NO" if n % 4 else "US",
            verification_state="verified",
            verification_decided_at=now,
        )
        for n in range(ORGANISATIONS)
    )
    applicants = User.objects.bulk_create(
        User(email=f"applicant{n}@org{n}.example") for n in range(ORGANISATIONS)
    )
    Membership.objects.bulk_create(
        Membership(user=u, organisation=o, role="owner")
        for u, o in zip(applicants, organisations, strict=True)
    )
    reviewers = User.objects.bulk_create(
        User(email=f"reviewer{n}@review.example") for n in range(REVIEWERS)
    )
    Group.objects.get_or_create(name=REVIEWERS_GROUP)[0].user_set.add(*reviewers)
    staff = User.objects.create(email="staff@grants.example", is_staff=True)

    def call_of(title: str, count: int) -> Call:
        call = Call.objects.create(
            title=title,
            description="GPU time for European AI research.",
            kind="standard",
            state="open",
            opens_at=now - timedelta(days=30),
            closes_at=now + timedelta(days=30),
            allowed_tiers=[1, 2, 3, 4],
            max_request_gpu_hours=10_000,
        )
        for gpu_type in gpu_types:
            CallPool.objects.create(call=call, gpu_type=gpu_type, gpu_hours=100_000_000)
        criteria = [
            ReviewCriterion.objects.create(call=call, name=name, weight=weight, position=n)
            for n, (name, weight) in enumerate(
                [("Excellence", 50), ("Feasibility", 30), ("European impact", 20)]
            )
        ]
        members = [chooser.randrange(ORGANISATIONS) for _ in range(count)]
        made = Application.objects.bulk_create(
            Application(
                call=call,
                applicant=applicants[m],
                organisation=organisations[m],
                state=chooser.choice([ApplicationState.SUBMITTED, ApplicationState.UNDER_REVIEW]),
                title=f"{title}: application {n}",
                abstract=TEXT[:1000],
                case_for_support=TEXT,
                model_description=TEXT[:2000],
                submitted_at=now - timedelta(minutes=n),
            )
            for n, m in enumerate(members)
        )
        ApplicationRequest.objects.bulk_create(
            ApplicationRequest(
                application=a, gpu_type=t, gpu_hours=Decimal(chooser.randint(1, 9000))
            )
            for a in made
            for t in gpu_types[: chooser.randint(1, 2)]
        )
        assignments = ReviewAssignment.objects.bulk_create(
            ReviewAssignment(application=a, reviewer=r)
            for a in made
            for r in chooser.sample(reviewers, REVIEWS_PER_APPLICATION)
        )
        ReviewScore.objects.bulk_create(
            ReviewScore(assignment=x, criterion=c, score=chooser.randint(1, 5), comment="Sound.")
            for x in assignments
            for c in criteria
        )
        review_sums_store(ReviewAssignment.objects.filter(application__call=call))
        return call

    small = call_of("Small call", SMALL_CALL)
    large = call_of("Large call", applications)
    return {"small": small, "large": large, "staff": staff, "reviewer": reviewers[0]}


def _timed(site: dict[str, Any], repeat: int) -> dict[str, tuple[str, str]]:
    """Request -> (figure on the small call, figure on the large one)."""
    from django.test import Client
    from rest_framework.test import APIClient

    from booking.grants.selectors.reviews import ranked_applications

    staff, reviewer = Client(), Client()
    staff.force_login(site["staff"])
    reviewer.force_login(site["reviewer"])
    api_staff, api_reviewer = APIClient(), APIClient()
    api_staff.force_authenticate(site["staff"])
    api_reviewer.force_authenticate(site["reviewer"])

    def get(client: Client, path: str) -> Callable[[], object]:
        def send() -> None:
            response = client.get(path, secure=True)
            assert response.status_code == 200, (path, response.status_code)  # noqa: S101

        return send

    figures: dict[str, tuple[str, str]] = {}
    for which in ("small", "large"):
        call = site[which]
        count = call.applications.count()
        last_page = max(1, -(-count // 25))
        application = call.applications.order_by("pk").first()
        requests: dict[str, Callable[[], object]] = {
            "ranked_applications (selector)": partial(ranked_applications, call=call),
            "console call page, first page": get(staff, f"/console/grants/calls/{call.pk}/"),
            "console call page, last page": get(
                staff, f"/console/grants/calls/{call.pk}/?page={last_page}"
            ),
            "GET staff ranking API (whole)": get(
                api_staff, f"/api/v1/staff/calls/{call.pk}/ranking/"
            ),
            "GET staff applications API (a page)": get(
                api_staff, f"/api/v1/staff/applications/?call={call.pk}"
            ),
            "GET reviews API (reviewer's inbox)": get(api_reviewer, "/api/v1/reviews/"),
            "portal reviews page (reviewer's inbox)": get(reviewer, "/reviews/"),
            "console review page of one application": get(
                staff, f"/console/grants/applications/{application.pk}/"
            ),
        }
        for name, request in requests.items():
            median, worst, queries = _measure(repeat, request)
            figure = f"{median:.1f} ms (max {worst:.0f}), {queries} q"
            small = figures.get(name, ("", ""))[0]
            figures[name] = (figure, "") if which == "small" else (small, figure)
    return figures


def _measure(repeat: int, call: Callable[[], object]) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        call()  # warm: the first run of a process loads templates and code
    count = len(queries)  # before the next request empties the connection's log
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), count


if __name__ == "__main__":
    raise SystemExit(main())
