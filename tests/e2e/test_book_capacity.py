"""End to end in a real browser: a PI books a block of nodes from the availability heat map.

Flow: alice (University of Oslo, tier 1, PI of NorLLM with 20,000 H100 GPU-hours, time zone
Europe/Oslo) opens Bookings → "Bookable nodes" → the heat map of free H100 nodes per hour → she
clicks a free hour two days ahead → the booking form opens at that hour in her local time → she
asks for 4 nodes for 24 hours and the price and refund deadline follow her input (in CET) → she
books → the booking page shows it confirmed with its hold on the ledger → "Submit a job into this
booking" opens the job form filled in for the block (paid by the booking) → she submits a job
into it and the booking's page lists it → the booking is in "My bookings" and the heat map shows
the hour with 4 nodes fewer.
"""

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from booking.models import CapacityBooking, Job, LedgerEntry
from tests.e2e.test_submit_job import SCRIPT, log_in
from tests.fixtures.capacity import POOL_NODES
from tests.fixtures.jobs import NOW

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def monday_morning() -> Iterator[None]:
    """Monday 2 March 2026, 09:00 UTC, and the clock runs (the browser waits on real time)."""
    with time_machine.travel(NOW, tick=True):
        yield


def test_a_pi_books_a_block_of_nodes_from_the_heat_map(page, screenshot, alice, norllm):
    alice.time_zone = "Europe/Oslo"
    alice.save()
    log_in(page, "alice@uio.no")
    page.get_by_role("link", name="Bookings", exact=True).click()
    page.get_by_text("Your projects have no bookings yet.").wait_for()
    screenshot("capacity-01-no-bookings")
    page.get_by_role("link", name="Bookable nodes").first.click()
    page.get_by_role("heading", name="Bookable nodes").wait_for()
    assert page.locator("svg.chart__svg rect").count() == 14 * 24
    screenshot("capacity-02-heat-map")

    # A free hour two days ahead, 10:00 in Oslo: its link starts a booking there.
    slot = page.locator("a.heat-map__slot").filter(has=page.locator("g[data-free='10']"))
    target = page.locator("a.heat-map__slot[aria-label^='Wed 04 Mar 10:00 CET']")
    assert slot.count() > 100
    target.click()
    page.get_by_role("heading", name="Book nodes").wait_for()
    page.wait_for_load_state()  # htmx binds its triggers once the page has loaded
    assert page.get_by_label("Start").input_value() == "2026-03-04T10:00"
    assert page.get_by_label("Project").input_value() == str(norllm.pk)

    page.get_by_label("Nodes").fill("4")
    page.get_by_label("Hours").fill("24")
    page.get_by_label("Name").fill("NorLLM pre-training")
    page.get_by_text("768 GPU-hours (4 nodes").wait_for()
    quote = page.locator("#quote").inner_text()
    assert "Within budget." in quote
    assert "Tue 2026-03-03 10:00 CET" in quote  # the refund deadline, in her time zone
    screenshot("capacity-03-form-with-price")
    page.get_by_role("button", name="Book the nodes").click()

    page.get_by_text("Your nodes are booked.").wait_for()
    page.get_by_role("heading", name="NorLLM pre-training").wait_for()
    booking = CapacityBooking.objects.get()
    assert (booking.node_count, booking.hours, booking.starts_at.hour) == (4, 24, 9)
    hold = LedgerEntry.objects.get(idempotency_key=f"booking-{booking.uuid}-hold")
    assert hold.gpu_hours == Decimal(768)
    assert f"booking-{booking.uuid}-hold" in page.locator("table.ledger").inner_text()
    screenshot("capacity-04-booking-confirmed")

    # From the booking's page, a job into the block: the form comes filled in for it.
    page.get_by_role("link", name="Submit a job into this booking").click()
    page.get_by_role("heading", name="Submit a job").wait_for()
    page.wait_for_load_state()
    assert page.get_by_label("Project").input_value() == str(norllm.pk)
    assert page.get_by_label("Capacity booking").input_value() == str(booking.pk)
    assert page.get_by_label("GPUs").input_value() == "32"
    page.get_by_text("Paid by the booking.").wait_for()
    page.get_by_label("Walltime").fill("12h")
    page.get_by_label("Name", exact=True).fill("pre-train in the block")
    page.get_by_label("Batch script").fill(SCRIPT)
    screenshot("capacity-05-job-into-booking")
    page.get_by_role("button", name="Submit the job").click()
    page.get_by_text("Your job is queued.").wait_for()
    job = Job.objects.get()
    assert (job.booking_id, job.gpus, job.walltime_minutes) == (booking.pk, 32, 720)
    page.get_by_role("link", name=str(booking.pk), exact=True).click()
    page.get_by_role("heading", name="NorLLM pre-training").wait_for()
    page.get_by_role("link", name="pre-train in the block").wait_for()
    screenshot("capacity-06-booking-with-its-job")

    page.get_by_role("link", name="My bookings").click()
    page.get_by_role("cell", name="Confirmed").wait_for()
    page.get_by_role("link", name="Bookable nodes").first.click()
    booked = page.locator("g[data-start='2026-03-04T10:00:00+01:00']")  # local time
    assert booked.get_attribute("data-free") == str(POOL_NODES - 4)
    screenshot("capacity-07-heat-map-after")
    assert booking.ends_at - booking.starts_at == timedelta(hours=24)


def test_staff_see_the_timeline_change_the_rules_and_cancel_with_a_refund(
    page, screenshot, staff, alice, norllm, bob, fjord
):
    from tests.fixtures.capacity import book

    late = book(alice, norllm, start=10, hours=20, nodes=4, name="NorLLM eval")
    for start in range(30, 24 * 12, 40):
        book(alice, norllm, start=start, hours=30, nodes=3)
        book(bob, fjord, start=start + 6, hours=12, nodes=5)
    log_in(page, "staff@stargate.eu")
    page.get_by_role("link", name="Console").click()
    page.get_by_role("link", name="Capacity bookings").click()
    page.get_by_role("heading", name="Capacity bookings").wait_for()
    assert page.locator("rect.timeline__bar").count() == CapacityBooking.objects.count()
    screenshot("capacity-08-console-timeline")

    page.get_by_role("link", name="Booking rules").click()
    page.get_by_role("link", name="Change the H100 rules").click()
    page.get_by_label("Bookable share of the nodes (%)").fill("30")
    page.get_by_label("Tier 4 books up to (days ahead)").fill("21")
    page.get_by_label("Reason").fill("Summer maintenance window")
    page.get_by_role("button", name="Save the rules").click()
    page.get_by_text("The H100 booking rules are saved.").wait_for()
    assert "Summer maintenance window" in page.locator("table.audit").inner_text()
    screenshot("capacity-09-console-rules")

    page.goto(f"/console/capacity/bookings/{late.pk}/")
    page.get_by_label("Reason").first.fill("Hall B cooling failure")
    page.get_by_label("Give every GPU-hour back").check()
    page.get_by_role("button", name="Cancel the booking").click()
    page.get_by_text("The booking is cancelled.").wait_for()
    late.refresh_from_db()
    assert late.released_at is not None
    screenshot("capacity-10-console-booking-cancelled")
