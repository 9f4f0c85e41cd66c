from django.urls import path

from booking.jobs.api import views
from stargate_portal.api.routers import IdRouter

router = IdRouter()
router.register("jobs", views.JobViewSet, basename="job")
router.register("staff/jobs", views.StaffJobViewSet, basename="staff-job")

urlpatterns = [
    path("queue/", views.QueueOverviewView.as_view(), name="job-queue"),
    *router.urls,
]
