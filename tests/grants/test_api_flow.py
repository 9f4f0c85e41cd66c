"""The whole grant flow through the API: call → application → review → award → project."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from booking.models import REVIEWERS_GROUP
from tests.factories import CallFactory, GpuTypeFactory, UserFactory
from tests.fixtures.grants import COMPLETE

pytestmark = pytest.mark.django_db
Api = Callable[[User | None], APIClient]


def _application_body(call_id: int, organisation_id: int) -> dict[str, object]:
    today = timezone.localdate()
    body = {k: str(v) if not isinstance(v, bool | int) else v for k, v in COMPLETE.items()}
    return body | {
        "call": call_id,
        "organisation": organisation_id,
        "title": "NorLLM",
        "planned_start": str(today + timedelta(days=7)),
        "planned_end": str(today + timedelta(days=180)),
        "requests": {"H100": "4000"},
        "team": ["erik@uio.no"],
    }


def test_researcher_applies_reviewer_scores_staff_awards_and_a_project_appears(
    api: Api, alice: User, charlie: User, staff: User
) -> None:
    GpuTypeFactory(name="H100")
    GpuTypeFactory(name="H200", memory_gb=141, power_watts=700)
    reviewer = UserFactory(email="rita@kth.se")
    reviewer.groups.add(Group.objects.get_or_create(name=REVIEWERS_GROUP)[0])
    opens = timezone.now() - timedelta(hours=1)
    created = api(staff).post(
        "/api/v1/staff/calls/",
        {
            "title": "AI Factory 2027",
            "description": "European AI",
            "opens_at": opens.isoformat(),
            "closes_at": (opens + timedelta(days=30)).isoformat(),
            "allowed_tiers": [1, 2, 3],
            "max_request_gpu_hours": "10000",
            "pools": {"H100": "50000", "H200": "10000"},
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    call_id = created.json()["id"]
    assert next(c["name"] for c in created.json()["criteria"]).startswith("Scientific")
    assert api(alice).get(f"/api/v1/calls/{call_id}/").status_code == 404  # still a draft
    assert api(staff).post(f"/api/v1/staff/calls/{call_id}/open/").json()["state"] == "open"

    open_calls = api(alice).get("/api/v1/calls/?open=true").json()["results"]
    assert [c["id"] for c in open_calls] == [call_id]
    org_id = alice.memberships.get().organisation_id
    draft = api(alice).post(
        "/api/v1/applications/", _application_body(call_id, org_id), format="json"
    )
    assert draft.status_code == 201, draft.json()
    app_id = draft.json()["id"]
    assert draft.json()["energy_estimate_kwh"] == "3080.0"  # 4000 h x 700 W x 1.1
    assert api(charlie).get(f"/api/v1/applications/{app_id}/").status_code == 404
    submitted = api(alice).post(f"/api/v1/applications/{app_id}/submit/")
    assert submitted.json()["state"] == "submitted"

    assigned = api(staff).post(
        f"/api/v1/staff/applications/{app_id}/assignments/",
        {"reviewer": "rita@kth.se"},
        format="json",
    )
    assert assigned.status_code == 201, assigned.json()
    inbox = api(reviewer).get("/api/v1/reviews/").json()["results"]
    assert [r["application"]["id"] for r in inbox] == [app_id]
    criteria = inbox[0]["criteria"]
    scores = [
        {"criterion": c["id"], "score": 4, "comment": "Strong.", "for_applicant": True}
        for c in criteria
    ]
    scored = api(reviewer).post(
        f"/api/v1/reviews/{inbox[0]['id']}/scores/", {"scores": scores}, format="json"
    )
    assert scored.status_code == 200, scored.json()
    ranking = api(staff).get(f"/api/v1/staff/calls/{call_id}/ranking/").json()
    assert ranking[0]["application"] == app_id
    assert (ranking[0]["tier"], ranking[0]["weighted_score"]) == (1, "4.00")

    awarded = api(staff).post(
        f"/api/v1/staff/applications/{app_id}/award/",
        {"gpu_hours": {"H100": "3500"}, "reason": "Excellent."},
        format="json",
    )
    assert awarded.json()["state"] == "awarded"
    mine = api(alice).get(f"/api/v1/applications/{app_id}/").json()
    assert mine["comments_for_applicant"][0]["comment"] == "Strong."
    assert "rita" not in str(mine)

    projects = api(alice).get("/api/v1/projects/").json()["results"]
    assert [(p["name"], p["tier"]) for p in projects] == [("NorLLM", 1)]
    project_id = projects[0]["id"]
    balances = api(alice).get(f"/api/v1/projects/{project_id}/balances/").json()
    assert balances == [
        {
            "gpu_type": "H100",
            "granted_gpu_hours": "3500.0000",
            "held_gpu_hours": "0.0000",
            "charged_gpu_hours": "0.0000",
            "available_gpu_hours": "3500.0000",
        }
    ]
    ledger = api(alice).get(f"/api/v1/projects/{project_id}/ledger/?kind=grant").json()
    assert [e["gpu_hours"] for e in ledger["results"]] == ["3500.0000"]
    csv = api(alice).get(f"/api/v1/projects/{project_id}/ledger/export/")
    assert csv["Content-Type"].startswith("text/csv")
    assert b"grant,H100,3500.0000" in b"".join(csv.streaming_content)
    assert api(charlie).get(f"/api/v1/projects/{project_id}/").status_code == 404
    assert api(charlie).get(f"/api/v1/projects/{project_id}/ledger/").status_code == 404


def test_bad_input_gets_specific_codes_and_nothing_changes(
    api: Api, alice: User, staff: User
) -> None:
    call = CallFactory(pools={"H100": 1000}, max_request_gpu_hours=500)
    org_id = alice.memberships.get().organisation_id
    body = _application_body(call.pk, org_id) | {"requests": {"H100": "600"}}
    above_cap = api(alice).post("/api/v1/applications/", body, format="json")
    assert above_cap.status_code == 409
    assert above_cap.json()["code"] == "request_above_cap"
    body["requests"] = {"B200": "10"}
    not_offered = api(alice).post("/api/v1/applications/", body, format="json")
    assert not_offered.json()["code"] == "gpu_type_not_offered"
    assert api(alice).get("/api/v1/applications/").json()["count"] == 0

    body["requests"] = {"H100": "400"}
    app_id = api(alice).post("/api/v1/applications/", body, format="json").json()["id"]
    api(alice).post(f"/api/v1/applications/{app_id}/submit/")
    edit = api(alice).patch(f"/api/v1/applications/{app_id}/", {"title": "x"}, format="json")
    assert (edit.status_code, edit.json()["code"]) == (409, "application_not_editable")
    too_much = api(staff).post(
        f"/api/v1/staff/applications/{app_id}/award/",
        {"gpu_hours": {"H100": "1001"}, "reason": "ok"},
        format="json",
    )
    assert (too_much.status_code, too_much.json()["code"]) == (409, "pool_exhausted")
    not_staff = api(alice).post(
        f"/api/v1/staff/applications/{app_id}/award/",
        {"gpu_hours": {"H100": "1"}, "reason": "ok"},
        format="json",
    )
    assert not_staff.status_code == 403
    invalid = api(alice).post("/api/v1/applications/", {"call": call.pk}, format="json")
    assert invalid.status_code == 400
    assert set(invalid.json()["details"]) >= {"organisation", "title"}


def test_replayed_top_up_key_is_refused_and_changes_nothing(
    api: Api, alice: User, staff: User
) -> None:
    from tests.factories import AllocationFactory

    allocation = AllocationFactory(project__organisation=alice.memberships.get().organisation)
    body = {"gpu_type": "H100", "gpu_hours": "100", "reason": "extra", "idempotency_key": "t-1"}
    url = f"/api/v1/staff/projects/{allocation.project_id}/top-up/"
    assert api(staff).post(url, body, format="json").status_code == 201
    replay = api(staff).post(url, body, format="json")
    assert (replay.status_code, replay.json()["code"]) == (409, "ledger_key_replayed")
    suspended = api(staff).post(
        f"/api/v1/staff/projects/{allocation.project_id}/suspend/",
        {"reason": "audit"},
        format="json",
    )
    assert suspended.json()["state"] == "suspended"


def test_list_endpoints_keep_query_counts_flat(
    api: Api, alice: User, django_assert_max_num_queries: object
) -> None:
    for _ in range(5):
        CallFactory()
    client = api(alice)
    with django_assert_max_num_queries(8):  # type: ignore[operator]
        calls = client.get("/api/v1/calls/")
    assert calls.json()["count"] == 5
    with django_assert_max_num_queries(8):  # type: ignore[operator]
        assert client.get("/api/v1/applications/").status_code == 200
    with django_assert_max_num_queries(8):  # type: ignore[operator]
        assert client.get("/api/v1/projects/").status_code == 200
