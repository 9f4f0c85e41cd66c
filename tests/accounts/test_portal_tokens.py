"""API tokens: listed by prefix, created once in clear, revoked by their owner only."""

from django.urls import reverse

from accounts.models import ApiToken
from accounts.services.tokens import api_token_create
from tests.pages import field_errors, page_text

URL = reverse("portal:token_list")


def test_empty_list_says_how_to_start(login, alice):
    text = page_text(login(alice).get(URL))

    assert "You have no tokens yet." in text
    assert "Create token" in text


def test_created_token_is_shown_once_and_the_list_later_shows_only_its_prefix(login, alice):
    client = login(alice)

    created = client.post(URL, {"name": "laptop", "expires_in_days": "30"})

    token = ApiToken.objects.get(user=alice)
    clear_text = created.context["clear_text"]
    assert created.status_code == 200
    assert clear_text.startswith(token.token_key)
    assert clear_text in created.content.decode()
    assert "It is shown only this once" in page_text(created)
    assert created["Cache-Control"].startswith("max-age=0")
    assert clear_text not in str(dict(client.session))

    listed = client.get(URL)

    assert clear_text not in listed.content.decode()
    assert f"{token.token_key}…" in page_text(listed)
    assert "laptop" in page_text(listed)


def test_token_expires_after_the_chosen_days(login, alice):
    login(alice).post(URL, {"name": "ci", "expires_in_days": "7"})

    token = ApiToken.objects.get(user=alice)
    assert round((token.expiry - token.created).total_seconds() / 86400) == 7


def test_bad_expiry_shows_the_error_and_creates_nothing(login, alice):
    response = login(alice).post(URL, {"name": "ci", "expires_in_days": "400"})

    assert field_errors(response, "expires_in_days") == ["A token lives between 1 and 365 days."]
    assert not ApiToken.objects.exists()


def test_missing_name_shows_the_error(login, alice):
    response = login(alice).post(URL, {"name": "", "expires_in_days": "30"})

    assert field_errors(response, "name") == ["This field is required."]
    assert not ApiToken.objects.exists()


def test_owner_revokes_a_token(login, alice):
    token, _clear = api_token_create(user=alice, name="old")

    response = login(alice).post(
        reverse("portal:token_revoke", args=[token.public_id]), follow=True
    )

    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert "The token “old” was revoked." in page_text(response)


def test_charlie_cannot_see_or_revoke_alices_token(login, alice, charlie):
    token, _clear = api_token_create(user=alice, name="alices-laptop")
    client = login(charlie)

    assert "alices-laptop" not in page_text(client.get(URL))
    response = client.post(reverse("portal:token_revoke", args=[token.public_id]))
    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()
