"""The kept benchmark site holds the rest of a running site, so the sweeps reach its pages."""

import pytest
from django.db.models import Sum

from booking.admission.bench_site import (
    LOAD_MEMBER_EMAIL,
    build_site,
    busiest_project,
    site_rest_build,
)
from booking.admission.route_sweep import sweep_routes, sweep_rows
from booking.models import (
    ApplicationState,
    EnergyMonthTotal,
    EnergyRecord,
    Job,
    JobState,
    Notification,
    ReviewAssignment,
)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_rest_of_the_kept_site_puts_applications_reviews_and_energy_under_the_sweeps() -> None:
    site = build_site(scale=0.002, seed=3)
    assert site.end_running(node_fraction=0.5) > 0
    project = busiest_project()
    assert project is not None
    assert project.application_id is None
    job = Job.objects.filter(project=project, state=JobState.PENDING).first()
    routes_before = {r.route for r in sweep_routes(sweep_rows(project, job))}

    printed = site_rest_build(seed=3, applications=30)

    project.refresh_from_db()
    own = project.application
    assert own is not None
    assert own.state == ApplicationState.AWARDED
    assert own.call.applications.count() == 31
    assert own.applicant.email == LOAD_MEMBER_EMAIL
    # The member reviews every other application of the call; half of them are scored.
    assignments = ReviewAssignment.objects.filter(reviewer__email=LOAD_MEMBER_EMAIL)
    assert assignments.count() == 30
    assert not assignments.filter(application=own).exists()
    assert assignments.filter(scores__isnull=False).distinct().count() == 15
    assert Notification.objects.filter(user=own.applicant).count() == 2_000
    # One energy record per finished job, and the monthly totals add up to them.
    finished = Job.objects.filter(state=JobState.COMPLETED)
    assert EnergyRecord.objects.count() == finished.count() > 0
    assert set(EnergyRecord.objects.values_list("job_id", flat=True)) == set(
        finished.values_list("pk", flat=True)
    )
    records = EnergyRecord.objects.aggregate(h=Sum("gpu_hours"))["h"]
    assert EnergyMonthTotal.objects.aggregate(h=Sum("gpu_hours"))["h"] == records > 0
    # The sweeps now reach the call's and the application's pages.
    routes_after = {r.route for r in sweep_routes(sweep_rows(project, job))}
    new = routes_after - routes_before
    assert routes_before < routes_after
    assert any("calls/" in route for route in new)
    assert any("applications/" in route for route in new)
    assert "a call of 31 applications" in printed[0]
