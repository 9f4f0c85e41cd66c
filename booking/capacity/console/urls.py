from django.urls import path

from booking.capacity.console import views

app_name = "capacity_console"
urlpatterns = [
    path("", views.timeline_view, name="timeline"),
    path("rules/", views.policy_list, name="policy_list"),
    path("rules/<str:gpu_type>/", views.policy_edit, name="policy_edit"),
    path("bookings/<int:pk>/", views.booking_detail, name="booking_detail"),
    path("bookings/<int:pk>/cancel/", views.booking_cancel_view, name="booking_cancel"),
    path("bookings/<int:pk>/refund/", views.booking_refund_view, name="booking_refund"),
]
