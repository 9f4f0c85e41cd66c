from django.urls import path

from booking.grants.portal.views import (
    applications,
    calls,
    navigation,
    projects,
    reviews,
)

app_name = "grants"
urlpatterns = [
    path("calls/", calls.call_list, name="call_list"),
    path("calls/<int:pk>/", calls.call_detail, name="call_detail"),
    path(
        "calls/<int:call_pk>/apply/",
        applications.application_create_view,
        name="application_create",
    ),
    path("calls/<int:pk>/energy/", applications.call_energy, name="call_energy"),
    path("applications/", applications.application_list, name="application_list"),
    path("applications/<int:pk>/", applications.application_detail, name="application_detail"),
    path(
        "applications/<int:pk>/edit/<slug:step>/",
        applications.application_step,
        name="application_step",
    ),
    path(
        "applications/<int:pk>/submit/",
        applications.application_submit_view,
        name="application_submit",
    ),
    path(
        "applications/<int:pk>/withdraw/",
        applications.application_withdraw_view,
        name="application_withdraw",
    ),
    path(
        "applications/<int:pk>/attachment/",
        applications.application_attachment,
        name="application_attachment",
    ),
    path("reviews/", reviews.review_inbox, name="review_inbox"),
    path("reviews/<int:pk>/", reviews.review_detail, name="review_detail"),
    path("reviews/<int:pk>/conflict/", reviews.review_conflict, name="review_conflict"),
    path("reviews/<int:pk>/attachment/", reviews.review_attachment, name="review_attachment"),
    path("projects/", projects.project_list, name="project_list"),
    path("projects/<int:pk>/", projects.project_detail, name="project_detail"),
    path("projects/<int:pk>/ledger/", projects.project_ledger, name="project_ledger"),
    path("projects/<int:pk>/members/", projects.project_members, name="project_members"),
    path(
        "projects/<int:pk>/members/<int:member_pk>/role/",
        projects.member_role,
        name="member_role",
    ),
    path(
        "projects/<int:pk>/members/<int:member_pk>/remove/",
        projects.member_remove,
        name="member_remove",
    ),
    path("invitations/", projects.invitation_list, name="invitation_list"),
    path("invitations/<int:pk>/", projects.invitation_detail, name="invitation_detail"),
    path(
        "invitations/<int:pk>/accept/",
        projects.invitation_accept_view,
        name="invitation_accept",
    ),
    path("navigation/", navigation.navigation, name="navigation"),
]
