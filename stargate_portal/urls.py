from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from booking.admission.console.urls import legacy_urlpatterns as moved_cluster_pages
from stargate_portal.api.schema import SchemaView
from stargate_portal.health import healthz
from stargate_portal.metrics import metrics

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("booking.jobs.api.urls")),
    path("api/v1/", include("booking.grants.api.urls")),
    path("api/v1/", include("booking.capacity.api.urls")),
    path("api/v1/", include("booking.energy.api.urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    *moved_cluster_pages,
    path("console/cluster/", include("booking.admission.console.urls")),
    path("console/grants/", include("booking.grants.console.urls")),
    path("console/capacity/", include("booking.capacity.console.urls")),
    path("console/energy/", include("booking.energy.console.urls")),
    path("console/", include("accounts.console.urls")),
    path("", include("accounts.portal.urls")),
    path("", include("booking.grants.portal.urls")),
    path("", include("booking.jobs.portal.urls")),
    path("", include("booking.capacity.portal.urls")),
    path("", include("booking.notifications.portal.urls")),
    path("", include("booking.energy.portal.urls")),
]

handler400 = "stargate_portal.errorpages.bad_request"
handler404 = "stargate_portal.errorpages.not_found"
handler500 = "stargate_portal.errorpages.server_error"
