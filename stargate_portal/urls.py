from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from stargate_portal.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("booking.api.jobs.urls")),
    path("api/v1/", include("booking.api.grants.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("console/grants/", include("booking.console.urls")),
    path("console/", include("accounts.console.urls")),
    path("", include("accounts.portal.urls")),
    path("", include("booking.portal.urls")),
]

handler404 = "stargate_portal.errorpages.not_found"
handler500 = "stargate_portal.errorpages.server_error"
