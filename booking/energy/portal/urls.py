from django.urls import path

from booking.energy.portal import views

app_name = "energy"
urlpatterns = [
    path("transparency/", views.transparency, name="transparency"),
    path("projects/<int:pk>/energy/", views.project_energy, name="project_energy"),
    path("organisations/<int:pk>/energy/", views.organisation_energy, name="organisation_energy"),
]
