from django.urls import path

from booking.energy.api import views

urlpatterns = [
    path("transparency/", views.TransparencyFeedView.as_view(), name="energy-transparency-feed"),
    path("energy/projects/<int:pk>/", views.ProjectEnergyView.as_view(), name="energy-project"),
    path(
        "energy/projects/<int:pk>/csv/",
        views.ProjectEnergyCsvView.as_view(),
        name="energy-project-csv",
    ),
    path(
        "energy/organisations/<int:pk>/",
        views.OrganisationEnergyView.as_view(),
        name="energy-organisation",
    ),
    path(
        "energy/organisations/<int:pk>/statement.pdf",
        views.OrganisationStatementView.as_view(),
        name="energy-organisation-statement",
    ),
    path(
        "energy/organisations/<int:pk>/csv/",
        views.OrganisationEnergyCsvView.as_view(),
        name="energy-organisation-csv",
    ),
]
