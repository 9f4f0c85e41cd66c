"""The admission cycle's project book follows the ledger instead of re-adding it each cycle."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from booking.admission.projects import ProjectBook
from booking.ledger.selectors import balance_of
from booking.ledger.services import ledger_charge, ledger_grant, ledger_hold, ledger_release
from booking.models import GpuType, LedgerEntry, Project
from tests.factories import AllocationFactory, GpuTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def target() -> tuple[Project, GpuType]:
    allocation = AllocationFactory.create(gpu_type=GpuTypeFactory.create(name="H100"))
    ledger_grant(
        project=allocation.project, gpu_type=allocation.gpu_type, gpu_hours=Decimal(100), key="g"
    )
    return allocation.project, allocation.gpu_type


def test_balances_follow_every_kind_of_ledger_movement(target: tuple[Project, GpuType]) -> None:
    project, gpu_type = target
    book = ProjectBook()
    today = timezone.localdate()
    assert book.facts({project.pk}, today=today)[project.pk].balances["H100"].available == 100

    ledger_hold(project=project, gpu_type=gpu_type, gpu_hours=Decimal("12.5"), key="h")
    ledger_release(project=project, gpu_type=gpu_type, gpu_hours=Decimal("12.5"), key="r")
    ledger_charge(project=project, gpu_type=gpu_type, gpu_hours=Decimal("3.25"), key="c")
    ledger_grant(project=project, gpu_type=gpu_type, gpu_hours=Decimal(50), key="g2")
    ledger_hold(project=project, gpu_type=gpu_type, gpu_hours=Decimal(7), key="h2")

    kept = book.facts({project.pk}, today=today)[project.pk].balances["H100"]
    assert kept == balance_of(project=project, gpu_type=gpu_type)
    assert (kept.granted, kept.held, kept.charged) == (Decimal(150), Decimal(7), Decimal("3.25"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_ledger_row_that_commits_late_is_counted_once(target: tuple[Project, GpuType]) -> None:
    project, gpu_type = target
    book = ProjectBook()
    today = timezone.localdate()
    book.facts({project.pk}, today=today)
    inserted, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with transaction.atomic():
            LedgerEntry.objects.create(
                project=project,
                gpu_type=gpu_type,
                kind="charge",
                gpu_hours=Decimal(1),
                idempotency_key="slow",
            )
            inserted.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    inserted.wait(10)
    ledger_charge(project=project, gpu_type=gpu_type, gpu_hours=Decimal(2), key="fast")  # id+1
    assert book.facts({project.pk}, today=today)[project.pk].balances["H100"].charged == 2
    release.set()
    thread.join()

    for _ in range(2):
        charged = book.facts({project.pk}, today=today)[project.pk].balances["H100"].charged
        assert charged == 3
