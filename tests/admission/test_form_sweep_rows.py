"""The hostile sweep of the kept site (``booking.admission.form_sweep``) counts the rows each
GET reads, in a transaction rolled back after it, and fails on one that reads more than
``ROWS_READ_MAX``: a filter that makes a request walk the site's jobs is found by a count,
not by a time."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import Client

from accounts.models import User
from booking.admission import form_sweep
from booking.admission.form_sweep import answer, report
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _reads_every_user_and_adds_one() -> HttpResponse:
    listed = list(User.objects.order_by("pk").values_list("email", flat=True))
    User.objects.create(email="written-by-a-get@example.org")
    return HttpResponse(str(len(listed)))


def test_a_get_is_counted_by_the_rows_it_reads_and_leaves_nothing_behind() -> None:
    UserFactory.create_batch(60)
    few = answer(lambda: HttpResponse("ok"), "none", "staff", "/nothing/", rows=True)
    many = answer(_reads_every_user_and_adds_one, "none", "staff", "/users/", rows=True)

    assert few.rows is not None
    assert few.rows < 5
    assert many.rows is not None
    assert many.rows >= 60
    assert many.status == 200
    # Rolled back after it: the sweep's GETs change nothing the forms after them find.
    assert not User.objects.filter(email="written-by-a-get@example.org").exists()
    # Not asked to count (the posts): nothing counted, and what the request wrote stays.
    posted = answer(_reads_every_user_and_adds_one, "none", "staff", "/users/")
    assert posted.rows is None
    assert User.objects.filter(email="written-by-a-get@example.org").exists()


def test_a_real_route_is_counted() -> None:
    staff = UserFactory(is_staff=True)
    client = Client(raise_request_exception=False)
    client.force_login(staff)

    page = answer(
        lambda: client.get("/console/cluster/queue/"), "none", "staff", "/console/", rows=True
    )

    assert page.status == 200
    assert page.rows is not None
    assert page.rows > 0


def test_a_get_that_reads_too_many_rows_fails_the_sweep(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    UserFactory.create_batch(60)
    monkeypatch.setattr(form_sweep, "ROWS_READ_MAX", 40)
    fine = answer(lambda: HttpResponse("ok"), "quote", "staff", "/fine/", rows=True)
    walks = answer(_reads_every_user_and_adds_one, "quote", "staff", "/walks/", rows=True)

    assert report("two GETs", [fine]) is False
    capsys.readouterr()
    assert report("two GETs", [fine, walks]) is True
    printed = capsys.readouterr().out
    listed = printed.split("GETs that read more than 40 rows: 1")[1].split("the 15 slowest")[0]
    assert "/walks/" in listed
    assert "/fine/" not in listed
    # The most-read GETs are listed with their counts, the walk first.
    most = printed.split("that read the most")[1]
    assert most.index("/walks/") < most.index("/fine/")
