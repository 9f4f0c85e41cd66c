from django.urls import path

from booking.portal.views import (
    applications,
    calls,
    jobs,
    navigation,
    notifications,
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
    path("notifications/", notifications.notification_list, name="notification_list"),
    path(
        "notifications/<int:pk>/read/",
        notifications.notification_read,
        name="notification_read",
    ),
    path("navigation/", navigation.navigation, name="navigation"),
    path(
        "notifications/read-all/",
        notifications.notification_read_all,
        name="notification_read_all",
    ),
    path("jobs/", jobs.job_list, name="job_list"),
    path("jobs/new/", jobs.job_submit_view, name="job_submit"),
    path("jobs/new/gpu-types/", jobs.job_gpu_types, name="job_gpu_types"),
    path("jobs/new/budget/", jobs.job_budget, name="job_budget"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job_detail"),
    path("jobs/<int:pk>/live/", jobs.job_live, name="job_live"),
    path("jobs/<int:pk>/row/", jobs.job_row, name="job_row"),
    path("jobs/<int:pk>/cancel/", jobs.job_cancel_view, name="job_cancel"),
    path("projects/<int:pk>/jobs/", jobs.project_jobs, name="job_project_section"),
    path("dashboard/jobs/", jobs.job_dashboard, name="job_dashboard_section"),
]
