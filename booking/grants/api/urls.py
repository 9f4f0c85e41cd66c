from django.urls import path

from booking.grants.api import projects, views
from stargate_portal.api.routers import IdRouter

router = IdRouter()
router.register("calls", views.CallViewSet, basename="call")
router.register("applications", views.ApplicationViewSet, basename="application")
router.register("reviews", views.ReviewViewSet, basename="review")
router.register("projects", projects.ProjectViewSet, basename="project")
router.register("invitations", projects.InvitationViewSet, basename="invitation")
router.register("notifications", projects.NotificationViewSet, basename="notification")
router.register("staff/calls", views.StaffCallViewSet, basename="staff-call")
router.register("staff/applications", views.StaffApplicationViewSet, basename="staff-application")
router.register("staff/projects", projects.StaffProjectViewSet, basename="staff-project")

member = projects.ProjectMemberViewSet.as_view({"patch": "partial_update", "delete": "destroy"})
urlpatterns = [
    path("projects/<int:project_pk>/members/<int:pk>/", member, name="project-member"),
    *router.urls,
]
