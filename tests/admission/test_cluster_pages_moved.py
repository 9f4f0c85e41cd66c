"""The staff console's cluster pages moved from ``/console/grants/cluster/`` to
``/console/cluster/``: old bookmarks answer "301 Moved Permanently" to the new address, query
string kept, and the new pages work for staff only."""

import re
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]

MOVED = [
    pytest.param("/console/grants/cluster/", "/console/cluster/", "Overview", id="overview"),
    pytest.param(
        "/console/grants/cluster/queue/?state=pending&gpu_type=H100&page=2",
        "/console/cluster/queue/?state=pending&gpu_type=H100&page=2",
        "Queue",
        id="queue-with-filters",
    ),
    pytest.param(
        "/console/grants/cluster/fair-share/?q=Nor%20LLM&tier=1",
        "/console/cluster/fair-share/?q=Nor%20LLM&tier=1",
        "Fair share",
        id="fair-share-with-search",
    ),
    pytest.param(
        "/console/grants/cluster/cycles/",
        "/console/cluster/cycles/",
        "Admission cycles",
        id="cycles",
    ),
]


def current_links(body: str, nav_label: str) -> list[str]:
    """The names of the links marked as the current page in the nav called ``nav_label``."""
    nav = re.search(rf'<nav [^>]*aria-label="{nav_label}">(.*?)</nav>', body, re.S)
    assert nav is not None, f"no {nav_label} nav"
    return re.findall(r'<a href="[^"]+" aria-current="page">([^<]+)</a>', nav.group(1))


@pytest.mark.parametrize(("old", "new", "page"), MOVED)
def test_an_old_cluster_address_answers_301_to_the_new_one_with_its_query(
    login: Login, staff: User, old: str, new: str, page: str
) -> None:
    response = login(staff).get(old)

    assert response.status_code == 301
    assert response["Location"] == new


def test_the_new_addresses_are_the_console_cluster_pages() -> None:
    assert reverse("admission_console:cluster_overview") == "/console/cluster/"
    assert reverse("admission_console:cluster_queue") == "/console/cluster/queue/"
    assert reverse("admission_console:cluster_fair_share") == "/console/cluster/fair-share/"
    assert reverse("admission_console:cluster_cycles") == "/console/cluster/cycles/"


@pytest.mark.parametrize(("old", "new", "page"), MOVED)
def test_following_an_old_address_lands_staff_on_the_page_marked_current_in_both_navs(
    login: Login, staff: User, old: str, new: str, page: str
) -> None:
    response = login(staff).get(old, follow=True)

    assert response.redirect_chain == [(new, 301)]
    assert response.status_code == 200
    body = response.content.decode()
    assert current_links(body, "Console") == ["Cluster and queue"]
    assert current_links(body, "Cluster") == [page]


@pytest.mark.parametrize(("old", "new", "page"), MOVED)
def test_alice_is_refused_the_new_pages(
    login: Login, alice: User, old: str, new: str, page: str
) -> None:
    assert login(alice).get(new).status_code == 403


def test_the_grants_console_pages_that_did_not_move_answer_as_before(
    login: Login, staff: User
) -> None:
    response = login(staff).get("/console/grants/")

    assert response.status_code == 200
    assert reverse("grants_console:call_list") == "/console/grants/"
    assert current_links(response.content.decode(), "Console") == ["Calls and applications"]
