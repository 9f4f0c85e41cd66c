from django.urls import path

from accounts.console import views

app_name = "console"
urlpatterns = [
    path("", views.verification_queue, name="verification_queue"),
]
