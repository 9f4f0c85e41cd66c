from django.urls import path

from booking.capacity.portal import views

app_name = "capacity"
urlpatterns = [
    path("bookings/", views.booking_list, name="booking_list"),
    path("bookings/availability/", views.availability_view, name="availability"),
    path("bookings/new/", views.booking_new, name="booking_new"),
    path("bookings/new/quote/", views.booking_quote, name="booking_quote"),
    path("bookings/<int:pk>/", views.booking_detail, name="booking_detail"),
    path("bookings/<int:pk>/cancel/", views.booking_cancel_view, name="booking_cancel"),
    path("bookings/calendar/", views.calendar_feeds, name="calendar_feeds"),
    path(
        "bookings/calendar/<int:project_pk>/new/",
        views.calendar_feed_new,
        name="calendar_feed_new",
    ),
    path(
        "bookings/calendar/feeds/<int:pk>/revoke/",
        views.calendar_feed_revoke_view,
        name="calendar_feed_revoke",
    ),
]
