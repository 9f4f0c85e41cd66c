from django.urls import path

from accounts.console import views

app_name = "console"
urlpatterns = [
    path("", views.verification_queue, name="verification_queue"),
    path("organisations/", views.organisation_list, name="organisation_list"),
    path("organisations/<int:pk>/", views.organisation_review, name="organisation_review"),
    path("decisions/", views.decision_list, name="decision_list"),
]
