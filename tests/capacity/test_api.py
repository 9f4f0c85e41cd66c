"""The capacity API: availability per type and hour; bookings (create, list, detail, cancel,
staff refund) with specific refusal codes; calendar addresses and the iCalendar feed; charlie
gets 404 on every booking URL."""

import pytest
from icalendar import Calendar

from booking.models import BookingState, CapacityBooking, ProjectMember
from tests.error_shape import assert_error
from tests.fixtures.capacity import POOL_NODES, at, book, booking_body

pytestmark = pytest.mark.usefixtures("clock")

BOOKINGS = "/api/v1/bookings/"
AVAILABILITY = "/api/v1/capacity/availability/"
FEEDS = "/api/v1/calendar-feeds/"


def test_availability_gives_the_free_nodes_per_hour_for_two_weeks(
    api, alice, norllm, django_assert_max_num_queries
):
    book(alice, norllm, start=48, hours=2, nodes=3)
    with django_assert_max_num_queries(6):
        response = api(alice).get(AVAILABILITY, {"gpu_type": "h100"})
    assert response.status_code == 200
    data = response.json()
    assert (data["gpu_type"], data["site_nodes"], data["pool_nodes"]) == ("H100", 40, POOL_NODES)
    assert data["horizon_days"] == {"1": 56, "2": 56, "3": 42, "4": 28}
    assert len(data["hours"]) == 14 * 24
    assert data["hours"][0]["starts_at"] == "2026-03-02T09:00:00Z"
    free = {hour["starts_at"]: hour["free_nodes"] for hour in data["hours"]}
    assert free["2026-03-04T09:00:00Z"] == POOL_NODES - 3
    assert free["2026-03-04T11:00:00Z"] == POOL_NODES


def test_availability_refuses_an_unknown_gpu_type_and_too_long_a_range(api, alice, site):
    assert_error(api(alice).get(AVAILABILITY, {"gpu_type": "Z9"}), 400, "invalid")
    response = api(alice).get(
        AVAILABILITY,
        {"gpu_type": "H100", "start": at(1).isoformat(), "end": at(1 + 24 * 71).isoformat()},
    )
    assert_error(response, 400, "range_too_long")


def test_a_pi_books_nodes_and_reads_the_booking_back(api, alice, norllm):
    response = api(alice).post(BOOKINGS, booking_body(norllm), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["state"], data["node_count"], data["gpus"], data["hours"]) == (
        "confirmed",
        2,
        16,
        24,
    )
    assert data["gpu_hours"] == "384.0000"
    assert data["refund_deadline"] == "2026-03-03T09:00:00Z"
    detail = api(alice).get(f"{BOOKINGS}{data['id']}/")
    assert detail.json()["name"] == "NorLLM pre-training"


def test_refusals_carry_their_specific_codes(api, alice, norllm, bob, fjord):
    client = api(alice)
    assert_error(
        client.post(BOOKINGS, booking_body(norllm, starts_at=at(48.5).isoformat()), format="json"),
        400,
        "not_aligned",
    )
    assert_error(
        client.post(
            BOOKINGS, booking_body(norllm, ends_at=at(48 + 337).isoformat()), format="json"
        ),
        400,
        "too_long",
    )
    far = {"starts_at": at(24 * 60).isoformat(), "ends_at": at(24 * 61).isoformat()}
    assert_error(
        client.post(BOOKINGS, booking_body(norllm, **far), format="json"),
        409,
        "outside_booking_horizon",
    )
    assert_error(
        client.post(BOOKINGS, booking_body(norllm, node_count=POOL_NODES + 1), format="json"),
        409,
        "exceeds_bookable_pool",
    )
    assert_error(
        client.post(
            BOOKINGS,
            booking_body(norllm, node_count=10, ends_at=at(48 + 336).isoformat()),
            format="json",
        ),
        409,
        "insufficient_balance",
    )
    book(bob, fjord, start=50, hours=1, nodes=POOL_NODES)
    refused = assert_error(
        client.post(BOOKINGS, booking_body(norllm), format="json"), 409, "capacity_unavailable"
    )
    assert refused["details"]["nearest_after"] == {
        "starts_at": at(51).isoformat(),
        "ends_at": at(75).isoformat(),
    }
    assert refused["details"]["nearest_before"] == {
        "starts_at": at(26).isoformat(),
        "ends_at": at(50).isoformat(),
    }


def test_a_retry_with_the_same_idempotency_key_returns_the_first_booking(api, alice, norllm):
    client = api(alice)
    first = client.post(
        BOOKINGS, booking_body(norllm), format="json", HTTP_IDEMPOTENCY_KEY="plan-7"
    )
    again = client.post(
        BOOKINGS, booking_body(norllm), format="json", HTTP_IDEMPOTENCY_KEY="plan-7"
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = client.post(
        BOOKINGS, booking_body(norllm, node_count=1), format="json", HTTP_IDEMPOTENCY_KEY="plan-7"
    )
    assert_error(other, 409, "idempotency_key_reused")
    assert CapacityBooking.objects.count() == 1


def test_the_list_costs_a_few_queries_whatever_its_length(
    api, alice, norllm, django_assert_max_num_queries
):
    for start in range(10, 10 + 24 * 30, 24):
        book(alice, norllm, start=start, hours=2)
    with django_assert_max_num_queries(4):
        response = api(alice).get(BOOKINGS, {"state": "confirmed", "page_size": 100})
    assert response.status_code == 200
    assert response.json()["count"] == 30
    assert response.json()["results"][0]["starts_at"] == "2026-03-31T19:00:00Z"


def test_cancelling_through_the_api_releases_the_hours_before_the_deadline(api, alice, norllm):
    booking = book(alice, norllm, start=48)
    response = api(alice).post(f"{BOOKINGS}{booking.pk}/cancel/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    assert response.json()["released_at"] is not None
    assert_error(
        api(alice).post(f"{BOOKINGS}{booking.pk}/cancel/", {}, format="json"),
        409,
        "not_cancellable",
    )


def test_staff_cancel_late_with_a_refund_and_refund_through_the_api(
    api, alice, norllm, staff, clock
):
    late = book(alice, norllm, start=10)
    charged = book(alice, norllm, start=12)
    clock.move_to(at(2))
    assert_error(
        api(alice).post(f"{BOOKINGS}{late.pk}/cancel/", {"refund": True}, format="json"),
        403,
        "permission_denied",
    )
    assert_error(
        api(staff).post(f"{BOOKINGS}{late.pk}/cancel/", {"refund": True}, format="json"),
        400,
        "invalid",
    )
    refunded = api(staff).post(
        f"{BOOKINGS}{late.pk}/cancel/", {"refund": True, "reason": "Hall B cooling"}, format="json"
    )
    assert refunded.json()["released_at"] is not None
    api(alice).post(f"{BOOKINGS}{charged.pk}/cancel/", {}, format="json")
    assert_error(
        api(alice).post(f"{BOOKINGS}{charged.pk}/refund/", {"reason": "x"}, format="json"),
        403,
        "permission_denied",
    )
    response = api(staff).post(
        f"{BOOKINGS}{charged.pk}/refund/", {"reason": "Goodwill"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["refunded_at"] is not None


def test_charlie_gets_404_on_every_booking_url(api, alice, norllm, charlie, acme):
    booking = book(alice, norllm, start=48)
    client = api(charlie)
    assert client.get(BOOKINGS).json()["count"] == 0
    for response in (
        client.get(f"{BOOKINGS}{booking.pk}/"),
        client.post(f"{BOOKINGS}{booking.pk}/cancel/", {}, format="json"),
        client.post(f"{BOOKINGS}{booking.pk}/refund/", {"reason": "x"}, format="json"),
        client.post(BOOKINGS, booking_body(norllm), format="json"),
        client.post(FEEDS, {"project": norllm.pk}, format="json"),
    ):
        assert_error(response, 404, "not_found")
    feed = api(alice).post(FEEDS, {"project": norllm.pk}, format="json").json()
    assert_error(client.delete(f"{FEEDS}{feed['id']}/"), 404, "not_found")
    assert CapacityBooking.objects.get().state == BookingState.CONFIRMED


def test_the_calendar_feed_parses_back_with_the_bookings(api, alice, norllm, client):
    kept = book(alice, norllm, start=48, hours=24, nodes=2, name="NorLLM pre-training")
    gone = book(alice, norllm, start=100, hours=3)
    api(alice).post(f"{BOOKINGS}{gone.pk}/cancel/", {}, format="json")
    made = api(alice).post(FEEDS, {"project": norllm.pk}, format="json")
    assert made.status_code == 201
    url = made.json()["url"]
    assert url.startswith("http://testserver/api/v1/calendar/sgcal_")
    response = client.get(url.removeprefix("http://testserver"))  # no login: the token is the key
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    events = {str(event["uid"]): event for event in calendar.walk("VEVENT")}
    event = events[f"booking-{kept.uuid}@stargate-portal"]
    assert event.decoded("dtstart") == at(48)
    assert event.decoded("dtend") == at(72)
    assert str(event["summary"]) == "NorLLM pre-training (2 x H100 nodes)"
    assert str(event["status"]) == "CONFIRMED"
    assert "Full refund if cancelled by 2026-03-03 09:00 UTC" in str(event["description"])
    assert str(events[f"booking-{gone.uuid}@stargate-portal"]["status"]) == "CANCELLED"


def test_a_revoked_calendar_address_or_a_member_who_left_gets_404(api, alice, norllm, client):
    first = api(alice).post(FEEDS, {"project": norllm.pk}, format="json").json()["url"]
    second = api(alice).post(FEEDS, {"project": norllm.pk}, format="json").json()
    path = second["url"].removeprefix("http://testserver")
    assert client.get(first.removeprefix("http://testserver")).status_code == 404  # replaced
    assert client.get(path).status_code == 200
    assert [feed["id"] for feed in api(alice).get(FEEDS).json()["results"]] == [second["id"]]
    assert api(alice).delete(f"{FEEDS}{second['id']}/").status_code == 204
    assert client.get(path).status_code == 404
    third = api(alice).post(FEEDS, {"project": norllm.pk}, format="json").json()["url"]
    ProjectMember.objects.filter(project=norllm, user=alice).delete()
    assert client.get(third.removeprefix("http://testserver")).status_code == 404
    assert client.get("/api/v1/calendar/sgcal_guessed.ics").status_code == 404


def test_the_feed_reads_a_bounded_number_of_rows(
    alice, norllm, client, api, django_assert_max_num_queries
):
    for start in range(10, 10 + 24 * 20, 24):
        book(alice, norllm, start=start, hours=2)
    path = api(alice).post(FEEDS, {"project": norllm.pk}, format="json").json()["url"]
    with django_assert_max_num_queries(5):
        response = client.get(path.removeprefix("http://testserver"))
    assert len(Calendar.from_ical(response.content).walk("VEVENT")) == 20
