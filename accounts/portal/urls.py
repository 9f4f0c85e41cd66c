from django.urls import path

from accounts.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("organisations/", views.organisation_list, name="organisation_list"),
    path("organisations/new/", views.organisation_create_view, name="organisation_create"),
    path("organisations/join/", views.directory, name="directory"),
    path(
        "organisations/join/<int:pk>/",
        views.join_request_create_view,
        name="join_request_create",
    ),
    path("organisations/<int:pk>/", views.organisation_detail, name="organisation_detail"),
    path("organisations/<int:pk>/edit/", views.organisation_edit, name="organisation_edit"),
    path("organisations/<int:pk>/members/", views.member_list, name="member_list"),
    path(
        "organisations/<int:pk>/members/<int:membership_pk>/role/",
        views.member_role,
        name="member_role",
    ),
    path(
        "organisations/<int:pk>/members/<int:membership_pk>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path(
        "organisations/<int:pk>/join-requests/",
        views.join_request_list,
        name="join_request_list",
    ),
    path(
        "organisations/<int:pk>/join-requests/<int:request_pk>/decide/",
        views.join_request_decide_view,
        name="join_request_decide",
    ),
    path("preferences/", views.preferences, name="preferences"),
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/<uuid:public_id>/revoke/", views.token_revoke, name="token_revoke"),
]
