"""Log-in: e-mail is case-insensitive, and repeated failures lock the account out for a while."""

from datetime import timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory
from tests.pages import form_errors

PASSWORD = "correct horse battery staple"


def _login(client, email: str, password: str):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_email_is_matched_whatever_its_case(client, db):
    UserFactory(email="erik@uio.no")

    response = _login(client, "Erik@UIO.no", PASSWORD)

    assert response.status_code == 302
    assert client.get(reverse("portal:dashboard")).status_code == 200


def test_five_failed_logins_block_even_the_right_password_until_the_window_passes(client, db):
    UserFactory(email="erik@uio.no")
    for _ in range(5):
        assert _login(client, "erik@uio.no", "wrong").status_code == 200

    blocked = _login(client, "erik@uio.no", PASSWORD)

    assert blocked.status_code == 200
    assert any("Too many failed login attempts" in e for e in form_errors(blocked))
    assert client.get(reverse("portal:dashboard")).status_code == 302
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert _login(client, "erik@uio.no", PASSWORD).status_code == 302
