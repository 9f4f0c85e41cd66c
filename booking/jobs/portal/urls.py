from django.urls import path

from booking.jobs.portal import views

app_name = "jobs"
urlpatterns = [
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/rows/", views.job_list_rows, name="job_list_rows"),
    path("jobs/new/", views.job_submit_view, name="job_submit"),
    path("jobs/new/gpu-types/", views.job_gpu_types, name="job_gpu_types"),
    path("jobs/new/budget/", views.job_budget, name="job_budget"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("jobs/<int:pk>/live/", views.job_live, name="job_live"),
    path("jobs/<int:pk>/cancel/", views.job_cancel_view, name="job_cancel"),
    path("projects/<int:pk>/jobs/", views.project_jobs, name="job_project_section"),
    path("dashboard/jobs/", views.job_dashboard, name="job_dashboard_section"),
]
