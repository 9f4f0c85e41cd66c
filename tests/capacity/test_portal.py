"""Bookings in the portal: the heat map of free nodes (a free hour starts a booking), the form
with its live price and the refund deadline in the person's own time zone (also across a change
of the clocks), my bookings, cancelling, calendar addresses; charlie gets 404 on every booking
page."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from booking.models import BookingState, CapacityBooking
from tests.fixtures.capacity import POOL_NODES, at, book
from tests.fixtures.jobs import TIMES
from tests.pages import field_errors, page_text

pytestmark = pytest.mark.usefixtures("clock")

MAP = reverse("capacity:availability")
NEW = reverse("capacity:booking_new")
QUOTE = reverse("capacity:booking_quote")
LIST = reverse("capacity:booking_list")


def oslo(user) -> None:
    user.time_zone = "Europe/Oslo"
    user.save()


def form(project, **overrides):
    return {
        "project": project.pk,
        "gpu_type": "H100",
        "node_count": 2,
        "start": "2026-03-04T10:00",
        "hours": 24,
        "name": "NorLLM pre-training",
        "idempotency_key": "portal-test-1",
    } | overrides


def test_the_heat_map_links_each_free_hour_to_a_booking_from_there(
    login, alice, norllm, bob, fjord, django_assert_max_num_queries
):
    book(bob, fjord, start=48, hours=1, nodes=POOL_NODES)
    client = login(alice)
    with django_assert_max_num_queries(14):
        response = client.get(MAP, {"gpu_type": "H100"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('<rect class="heat-map__cell"') == 14 * 24
    full = at(48).strftime("%Y-%m-%dT%H:%M:%S")
    assert f'data-start="{full}+00:00" data-free="0"' in body
    assert "start=2026-03-04T09%3A00%3A00%2B00%3A00" not in body  # a full hour is no link
    assert "start=2026-03-04T10%3A00%3A00%2B00%3A00" in body
    assert "Wed 04 Mar 09:00 UTC: 0 of 10 nodes free" in body
    assert "Mon 02 Mar 09:00 UTC: too soon to book" in body  # now: the first is 10:00
    assert "start=2026-03-02T09%3A00" not in body
    assert "start=2026-03-02T10%3A00" in body


def test_the_heat_map_is_in_the_persons_time_zone_with_23_hours_on_the_day_clocks_go_forward(
    login, alice, norllm
):
    oslo(alice)
    response = login(alice).get(MAP, {"gpu_type": "H100", "from": "2026-03-28"})
    body = response.content.decode()
    day = re.search(
        r'<text class="chart__label heat-map__day" x="4" y="(\d+)">Sun 29 Mar</text>', body
    )
    assert day is not None
    row_y = int(day.group(1)) - 15
    assert len(re.findall(rf'<rect class="heat-map__cell" x="[\d.]+" y="{row_y}"', body)) == 23
    assert "Sun 29 Mar 03:00 CEST" in body
    assert "Sun 29 Mar 02:00" not in body


def test_a_click_on_a_free_hour_opens_the_form_at_that_hour_in_local_time(login, alice, norllm):
    oslo(alice)
    response = login(alice).get(NEW, {"gpu_type": "H100", "start": "2026-03-04T09:00:00+00:00"})
    assert response.status_code == 200
    assert 'value="2026-03-04T10:00"' in response.content.decode()  # 09:00 UTC is 10:00 in Oslo
    assert "In your time zone (Europe/Oslo)" in page_text(response)


def test_the_quote_shows_the_price_and_the_refund_deadline_in_the_persons_time_zone(
    login, alice, norllm
):
    oslo(alice)
    response = login(alice).get(QUOTE, form(norllm))
    text = page_text(response)
    assert f"384 GPU-hours (2 nodes {TIMES} 8 GPUs {TIMES} 24 h)" in text
    assert "Within budget." in text
    assert "Full refund until Tue 2026-03-03 10:00 CET" in text  # 24 h before 10:00 CET


def test_across_the_change_to_summer_time_the_refund_deadline_is_24_real_hours_earlier(
    login, alice, norllm
):
    oslo(alice)
    # 03:00 on Sunday 29 March is CEST (01:00 UTC); 24 hours earlier it is 02:00 CET.
    response = login(alice).get(QUOTE, form(norllm, start="2026-03-29T03:00", hours=3))
    text = page_text(response)
    assert "Sun 2026-03-29 03:00 CEST → Sun 2026-03-29 06:00 CEST" in text
    assert "Full refund until Sat 2026-03-28 02:00 CET" in text


def test_a_local_time_the_clocks_skip_is_refused_next_to_the_start(login, alice, norllm):
    oslo(alice)
    response = login(alice).post(NEW, form(norllm, start="2026-03-29T02:00"))
    assert response.status_code == 200
    assert field_errors(response, "start")
    assert not CapacityBooking.objects.exists()


def test_booking_from_the_form_stores_the_window_in_utc(login, alice, norllm):
    oslo(alice)
    response = login(alice).post(NEW, form(norllm))
    booking = CapacityBooking.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("capacity:booking_detail", args=[booking.pk])
    assert (booking.starts_at, booking.ends_at) == (
        datetime(2026, 3, 4, 9, tzinfo=UTC),
        datetime(2026, 3, 5, 9, tzinfo=UTC),
    )
    again = login(alice).post(NEW, form(norllm))  # the same form sent twice books once
    assert again.status_code == 302
    assert CapacityBooking.objects.count() == 1


def test_a_refusal_for_capacity_offers_the_nearest_free_windows(login, alice, norllm, bob, fjord):
    book(bob, fjord, start=50, hours=1, nodes=POOL_NODES)
    response = login(alice).post(NEW, form(norllm, start="2026-03-04T09:00"))
    assert response.status_code == 200
    assert "are not bookable in every hour of this window" in " ".join(
        field_errors(response, "start")
    )
    text = page_text(response)
    assert (
        "Earlier: Mon 2026-03-03 11:00 UTC → Wed 2026-03-04 11:00 UTC" in text or "Earlier:" in text
    )
    assert "Later: Wed 2026-03-04 12:00 UTC → Thu 2026-03-05 12:00 UTC" in text


def test_my_bookings_lists_them_in_a_few_queries(
    login, alice, norllm, django_assert_max_num_queries
):
    for start in range(10, 10 + 24 * 30, 24):
        book(alice, norllm, start=start, hours=2)
    client = login(alice)
    with django_assert_max_num_queries(12):
        response = client.get(LIST)
    assert response.status_code == 200
    assert page_text(response).count("Confirmed") >= 25
    assert "Page 1 of 2" in page_text(response)


def test_a_pi_cancels_from_the_booking_page_before_the_deadline(login, alice, norllm):
    booking = book(alice, norllm, start=48)
    client = login(alice)
    page = page_text(client.get(reverse("capacity:booking_detail", args=[booking.pk])))
    assert "It is before the refund deadline: every GPU-hour comes back." in page
    response = client.post(reverse("capacity:booking_cancel", args=[booking.pk]), follow=True)
    assert "The booking is cancelled; its GPU-hours are back." in page_text(response)
    assert CapacityBooking.objects.get().state == BookingState.CANCELLED


def test_charlie_gets_404_on_every_booking_page(login, alice, norllm, charlie, acme):
    booking = book(alice, norllm, start=48)
    client = login(charlie)
    assert client.get(reverse("capacity:booking_detail", args=[booking.pk])).status_code == 404
    assert client.post(reverse("capacity:booking_cancel", args=[booking.pk])).status_code == 404
    assert client.post(reverse("capacity:calendar_feed_new", args=[norllm.pk])).status_code == 404
    assert "NorLLM" not in page_text(client.get(LIST))
    response = client.post(NEW, form(norllm))
    assert field_errors(response, "project")  # not one of charlie's projects
    assert CapacityBooking.objects.get().state == BookingState.CONFIRMED


def test_a_member_makes_a_calendar_address_shown_once(login, alice, norllm):
    client = login(alice)
    response = client.post(reverse("capacity:calendar_feed_new", args=[norllm.pk]))
    assert response.status_code == 200
    url = re.search(
        r'value="(http://testserver/api/v1/calendar/sgcal_[^"]+)"', response.content.decode()
    )
    assert url is not None
    assert client.get(url.group(1).removeprefix("http://testserver")).status_code == 200
    assert "sgcal_" not in client.get(reverse("capacity:calendar_feeds")).content.decode()


def test_a_person_chooses_their_time_zone(login, alice):
    client = login(alice)
    response = client.post(reverse("portal:preferences"), {"time_zone": "America/New_York"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.time_zone == "America/New_York"
    refused = client.post(reverse("portal:preferences"), {"time_zone": "Mars/Olympus"})
    assert field_errors(refused, "time_zone")


def test_the_booking_page_links_to_a_job_form_prefilled_for_the_booking(login, alice, norllm):
    booking = book(alice, norllm, start=48, hours=24, nodes=2)
    client = login(alice)
    page = client.get(reverse("capacity:booking_detail", args=[booking.pk])).content.decode()
    link = re.search(r'href="([^"]+)">Submit a job into this booking', page)
    assert link is not None
    form = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert re.search(rf'name="booking" value="{booking.pk}"', form)
    assert re.search(r'name="gpus" value="16"', form)
    assert "Paid by the booking." in form


def test_a_job_submitted_from_the_portal_runs_in_the_booking_or_shows_why_not(login, alice, norllm):
    from booking.models import Job
    from tests.fixtures.jobs import SUBMIT_URL, form_data

    booking = book(alice, norllm, start=48, hours=2, nodes=1)
    client = login(alice)
    too_big = client.post(SUBMIT_URL, form_data(norllm, gpus=16, booking=booking.pk))
    assert field_errors(too_big, "gpus") == ["This booking has 8 GPUs."]
    too_long = client.post(SUBMIT_URL, form_data(norllm, walltime="3h", booking=booking.pk))
    assert "past the end of the booking" in field_errors(too_long, "walltime")[0]
    unknown = client.post(SUBMIT_URL, form_data(norllm, booking=10**9))
    assert field_errors(unknown, "booking") == [f"The project has no booking {10**9}."]
    assert not Job.objects.exists()

    done = client.post(SUBMIT_URL, form_data(norllm, booking=booking.pk))
    assert done.status_code == 302
    assert Job.objects.get().booking == booking
    page = page_text(client.get(reverse("capacity:booking_detail", args=[booking.pk])))
    section = page.split("Jobs in this booking", 1)[1]
    assert section.startswith(
        " Submit a job into this booking Job GPUs State Submitted train 4 Pending"
    )
