"""Notifications: a list, the unread count in the navigation, mark read."""

from django.urls import reverse

from booking.models import Notification
from tests.pages import page_text

LIST_URL = reverse("notifications:notification_list")
NAVIGATION_URL = reverse("grants:navigation")


def test_submitting_notifies_the_applicant_in_the_portal(login, alice, portal_submitted):
    response = login(alice).get(LIST_URL)

    text = page_text(response)
    assert "Application submitted: NorLLM" in text
    assert "We received your application to AI Factory call 2027." in text
    assert "Mark all as read" in text


def test_every_page_loads_the_unread_count_into_the_navigation(login, alice, portal_submitted):
    client = login(alice)

    page = client.get(reverse("portal:dashboard")).content.decode()
    fragment = client.get(NAVIGATION_URL, HTTP_HX_REQUEST="true")

    assert f'hx-get="{NAVIGATION_URL}?section="' in page
    assert page_text(fragment) == "Notifications 1 unread"


def test_marking_one_as_read_clears_the_count(login, alice, portal_submitted):
    notification = Notification.objects.get(user=alice)

    response = login(alice).post(
        reverse("notifications:notification_read", args=[notification.pk]), follow=True
    )

    notification.refresh_from_db()
    assert notification.read_at is not None
    assert "Mark all as read" not in page_text(response)
    assert page_text(login(alice).get(NAVIGATION_URL)) == "Notifications"


def test_opening_one_marks_it_read_and_follows_its_link(login, alice, portal_submitted):
    notification = Notification.objects.get(user=alice)

    response = login(alice).post(
        reverse("notifications:notification_read", args=[notification.pk]), {"open": "1"}
    )

    assert response["Location"] == f"/applications/{portal_submitted.pk}/"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_a_link_to_another_site_is_not_followed(login, alice, db):
    notification = Notification.objects.create(
        user=alice, subject="Phish", url="https://evil.example/"
    )

    response = login(alice).post(
        reverse("notifications:notification_read", args=[notification.pk]), {"open": "1"}
    )

    assert response["Location"] == LIST_URL


def test_mark_all_as_read(login, alice, db):
    Notification.objects.bulk_create(Notification(user=alice, subject=f"N{i}") for i in range(3))

    login(alice).post(reverse("notifications:notification_read_all"))

    assert not Notification.objects.filter(user=alice, read_at__isnull=True).exists()


def test_charlie_cannot_mark_alices_notification(login, alice, charlie, portal_submitted):
    notification = Notification.objects.get(user=alice)

    response = login(charlie).post(
        reverse("notifications:notification_read", args=[notification.pk])
    )

    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_empty_list_says_what_will_appear(login, bob):
    assert "No notifications yet." in page_text(login(bob).get(LIST_URL))
