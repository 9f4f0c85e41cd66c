from django.urls import path

from booking.grants.console.views import applications, calls, projects

app_name = "grants_console"
urlpatterns = [
    path("", calls.call_list, name="call_list"),
    path("calls/new/", calls.call_create_view, name="call_create"),
    path("calls/<int:pk>/", calls.call_detail, name="call_detail"),
    path("calls/<int:pk>/edit/", calls.call_edit, name="call_edit"),
    path("calls/<int:pk>/open/", calls.call_open_view, name="call_open"),
    path("calls/<int:pk>/close/", calls.call_close_view, name="call_close"),
    path("applications/<int:pk>/", applications.application_review, name="application_review"),
    path(
        "applications/<int:pk>/assign/",
        applications.application_assign,
        name="application_assign",
    ),
    path(
        "applications/<int:pk>/award/",
        applications.application_award_view,
        name="application_award",
    ),
    path(
        "applications/<int:pk>/reject/",
        applications.application_reject_view,
        name="application_reject",
    ),
    path(
        "applications/<int:pk>/attachment/",
        applications.application_attachment,
        name="application_attachment",
    ),
    path("projects/", projects.project_list, name="project_list"),
    path("projects/<int:pk>/", projects.project_detail, name="project_detail"),
    path("projects/<int:pk>/top-up/", projects.project_top_up_view, name="project_top_up"),
    path("projects/<int:pk>/adjust/", projects.project_adjust_view, name="project_adjust"),
    path("projects/<int:pk>/state/", projects.project_state_view, name="project_state"),
    path(
        "projects/<int:pk>/allocations/<int:allocation_pk>/extend/",
        projects.allocation_extend_view,
        name="allocation_extend",
    ),
]
