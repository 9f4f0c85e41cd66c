from django.urls import path
from rest_framework.routers import SimpleRouter

from booking.jobs.api import views

router = SimpleRouter()
router.register("jobs", views.JobViewSet, basename="job")
router.register("staff/jobs", views.StaffJobViewSet, basename="staff-job")

urlpatterns = [
    path("queue/", views.QueueOverviewView.as_view(), name="job-queue"),
    *router.urls,
]
