"""The job list's orders: newest first, or oldest first; any other order is refused with the
fields a client may use, not silently ignored (each would sort every job of the projects)."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_job_list_is_newest_first_or_oldest_first(submit, api, alice, alice_project, clock):
    jobs = []
    for n in range(3):
        jobs.append(submit(alice, alice_project, name=f"train-{n}", gpus=8 - n))
        clock.shift(60)
    client = api(alice)

    newest = client.get("/api/v1/jobs/").json()["results"]
    oldest = client.get("/api/v1/jobs/", {"ordering": "submitted_at"}).json()["results"]

    assert [j["name"] for j in newest] == ["train-2", "train-1", "train-0"]
    assert [j["name"] for j in oldest] == ["train-0", "train-1", "train-2"]


@pytest.mark.parametrize("ordering", ["gpus", "-state", "submitted_at,gpus", "password"])
def test_an_order_the_list_does_not_offer_is_refused_with_the_ones_it_does(
    ordering, submit, api, alice, alice_project
):
    submit(alice, alice_project)

    response = api(alice).get("/api/v1/jobs/", {"ordering": ordering})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["details"] == {"ordering": ["A list of these can be ordered by submitted_at only."]}


def test_other_lists_refuse_unknown_orders_too(api, alice):
    response = api(alice).get("/api/v1/organisations/", {"ordering": "-country"})

    assert response.status_code == 400
    assert response.json()["details"]["ordering"] == [
        "A list of these can be ordered by created_at, name only."
    ]
