from django.urls import path
from rest_framework.routers import SimpleRouter

from booking.capacity.api import views

router = SimpleRouter()
router.register("bookings", views.BookingViewSet, basename="booking")
router.register("calendar-feeds", views.CalendarFeedViewSet, basename="calendar-feed")

urlpatterns = [
    path("capacity/availability/", views.AvailabilityView.as_view(), name="capacity-availability"),
    path("calendar/<str:token>.ics", views.CalendarFeedView.as_view(), name="capacity-feed"),
    *router.urls,
]
