from django.urls import path

from booking.energy.console import views

app_name = "energy_console"
urlpatterns = [
    path("", views.factor_list, name="factor_list"),
    path("site/new/", views.site_factors_edit, name="site_new"),
    path("site/<int:pk>/", views.site_factors_edit, name="site_edit"),
    path("gpu/new/", views.gpu_factors_edit, name="gpu_new"),
    path("gpu/<int:pk>/", views.gpu_factors_edit, name="gpu_edit"),
]
