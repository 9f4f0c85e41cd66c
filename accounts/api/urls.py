from django.urls import path

from accounts.api import views
from stargate_portal.api.routers import IdRouter

router = IdRouter(trailing_slash=True)
router.register("organisations", views.OrganisationViewSet, basename="organisation")
router.register("directory", views.DirectoryView, basename="directory")
router.register("join-requests", views.JoinRequestViewSet, basename="join-request")
router.register("tokens", views.ApiTokenViewSet, basename="token")
router.register(
    "staff/organisations", views.StaffOrganisationViewSet, basename="staff-organisation"
)

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path(
        "organisations/<int:organisation_pk>/members/",
        views.MemberListView.as_view(),
        name="organisation-members",
    ),
    path(
        "organisations/<int:organisation_pk>/members/<int:pk>/",
        views.MembershipView.as_view(),
        name="organisation-member",
    ),
    path(
        "organisations/<int:organisation_pk>/join-requests/",
        views.OrganisationJoinRequestListView.as_view(),
        name="organisation-join-requests",
    ),
    *router.urls,
]
