"""allauth's pages (sign-up, e-mail confirmation, log-in/out, password reset) in our layout."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import User
from tests.factories import UserFactory
from tests.pages import error_is_linked_to_input, field_errors, form_errors, page_text

PASSWORD = "Stargate-narvik-2025"


def uses_portal_layout(response) -> bool:
    body = response.content.decode()
    return all(
        part in body
        for part in (
            'class="skip-link" href="#main"',
            'href="/static/css/portal.css"',
            '<main id="main"',
            "Stargate Portal",
        )
    )


def link_in_last_email() -> str:
    match = re.search(r"https?://\S+?(/accounts/\S+/)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


@pytest.mark.parametrize(
    "name",
    [
        "account_signup",
        "account_login",
        "account_reset_password",
        "account_email_verification_sent",
    ],
)
def test_account_pages_use_the_portal_layout(client, db, name):
    response = client.get(reverse(name))

    assert response.status_code == 200
    assert uses_portal_layout(response)


def test_signup_form_has_labels_for_every_field(client, db):
    body = client.get(reverse("account_signup")).content.decode()

    for field in ("email", "password1", "password2"):
        assert f'<label for="id_{field}">' in body


def test_signup_error_is_shown_next_to_the_field(client, db):
    response = client.post(
        reverse("account_signup"),
        {"email": "dana@ntnu.no", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )

    assert field_errors(response, "password2") == ["You must type the same password each time."]
    assert error_is_linked_to_input(response, "password2")
    assert not User.objects.filter(email="dana@ntnu.no").exists()


def test_signing_up_with_an_address_longer_than_the_column_is_refused_not_cut(client, db):
    email = "a" * 300 + "@uio.no"

    response = client.post(
        reverse("account_signup"), {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )

    assert field_errors(response, "email") == ["An e-mail address has at most 254 characters."]
    assert not User.objects.exists()


def test_signup_confirm_by_post_and_land_on_the_dashboard(
    client, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # e-mails are queued on commit
        response = client.post(
            reverse("account_signup"),
            {"email": "dana@ntnu.no", "password1": PASSWORD, "password2": PASSWORD},
            follow=True,
        )
    assert uses_portal_layout(response)
    assert "Verify Your Email Address" in page_text(response)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dana@ntnu.no"]
    confirm_url = link_in_last_email()

    confirm_page = client.get(confirm_url)

    assert uses_portal_layout(confirm_page)
    assert "Confirm Email Address" in page_text(confirm_page)
    assert '<button class="button"' in confirm_page.content.decode()
    assert not EmailAddress.objects.get(email="dana@ntnu.no").verified

    confirmed = client.post(confirm_url, follow=True)

    assert EmailAddress.objects.get(email="dana@ntnu.no").verified
    assert confirmed.redirect_chain[-1][0] == reverse("portal:dashboard")
    assert "You are not in any organisation yet." in page_text(confirmed)


def test_wrong_password_shows_an_error_above_the_login_form(client, db):
    UserFactory(email="erik@uio.no")

    response = client.post(reverse("account_login"), {"login": "erik@uio.no", "password": "nope"})

    assert form_errors(response) == [
        "The email address and/or password you specified are not correct."
    ]
    assert uses_portal_layout(response)


def test_login_and_logout(client, db):
    UserFactory(email="erik@uio.no")

    logged_in = client.post(
        reverse("account_login"),
        {"login": "erik@uio.no", "password": "correct horse battery staple"},
        follow=True,
    )
    assert "erik@uio.no" in page_text(logged_in)
    assert "Log out" in page_text(logged_in)
    logout_page = client.get(reverse("account_logout"))
    assert uses_portal_layout(logout_page)

    client.post(reverse("account_logout"))

    assert client.get(reverse("portal:dashboard")).status_code == 302


def test_password_reset_from_request_to_done(client, db, django_capture_on_commit_callbacks):
    UserFactory(email="erik@uio.no")

    with django_capture_on_commit_callbacks(execute=True):
        requested = client.post(
            reverse("account_reset_password"), {"email": "erik@uio.no"}, follow=True
        )
    assert uses_portal_layout(requested)
    assert "We have sent you an email." in page_text(requested)

    from_key = client.get(link_in_last_email(), follow=True)
    assert uses_portal_layout(from_key)
    assert "Change Password" in page_text(from_key)
    assert '<label for="id_password1">' in from_key.content.decode()

    done = client.post(
        from_key.redirect_chain[-1][0],
        {"password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    assert uses_portal_layout(done)
    assert "Your password is now changed." in page_text(done)
    assert User.objects.get(email="erik@uio.no").check_password(PASSWORD)


def test_nav_shows_console_to_staff_only(login, alice, staff):
    assert "Console" not in page_text(login(alice).get(reverse("portal:dashboard")))
    assert "Console" in page_text(login(staff).get(reverse("portal:dashboard")))


def test_unknown_page_is_our_404(client, db):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert "Page not found" in page_text(response)


def test_error_pages_render_without_a_request():
    for name, title in (
        ("errors/400.html", "Bad request"),
        ("errors/404.html", "Page not found"),
        ("errors/500.html", "Something went wrong"),
    ):
        html = render_to_string(name)
        assert title in html
        assert "/static/css/portal.css" in html
