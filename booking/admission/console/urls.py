"""The staff console's cluster pages, at ``/console/cluster/``.

They lived at ``/console/grants/cluster/`` until the features got their own packages;
``legacy_urlpatterns`` sends those addresses here.
"""

from django.urls import path, re_path
from django.views.generic import RedirectView

from booking.admission.console import views

app_name = "admission_console"
urlpatterns = [
    path("", views.cluster_overview, name="cluster_overview"),
    path("queue/", views.cluster_queue, name="cluster_queue"),
    path("fair-share/", views.cluster_fair_share, name="cluster_fair_share"),
    path("cycles/", views.cluster_cycles, name="cluster_cycles"),
]

legacy_urlpatterns = [
    re_path(
        r"^console/grants/cluster/(?P<rest>.*)$",
        RedirectView.as_view(url="/console/cluster/%(rest)s", permanent=True, query_string=True),
    ),
]
