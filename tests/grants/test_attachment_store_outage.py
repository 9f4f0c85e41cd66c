"""When the file store of attachments cannot write (full, unmounted, refused), an upload is a
503 ``storage_unavailable`` in the API and a message on the form in the portal: the draft keeps
its earlier attachment and every other field as they were, and the same upload works once the
store is back.

The store fails for real here: ``MEDIA_ROOT`` is made a directory under a regular file, so the
operating system refuses to create it (``NotADirectoryError``, an ``OSError`` as a full or
vanished disk raises), as root too."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django import Settings

from accounts.models import User
from booking.models import Application
from tests.error_shape import assert_error
from tests.pages import form_errors

FIRST = b"%PDF-1.4 first work plan"
SECOND = b"%PDF-1.4 second work plan"


def _pdf(content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("plan.pdf", content, content_type="application/pdf")


@pytest.fixture
def attached(alice: User, draft: Application, login: object) -> Application:
    """alice's draft with a first PDF, stored while the store works."""
    client = login(alice)  # type: ignore[operator]
    client.post(
        reverse("grants:application_step", args=[draft.pk, "team"]),
        {"team": "erik@uio.no", "attachment": _pdf(FIRST)},
    )
    draft.refresh_from_db()
    assert draft.attachment.read() == FIRST
    return draft


class Store:
    """The file store of the test: ``fail()`` makes it refuse every write, ``mend()`` brings it
    back where it was."""

    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        self.settings, self.working = settings, settings.MEDIA_ROOT
        self.blocker = tmp_path / "a-file"
        self.blocker.write_bytes(b"not a directory")

    def fail(self) -> None:
        self.settings.MEDIA_ROOT = str(self.blocker / "media")

    def mend(self) -> None:
        self.settings.MEDIA_ROOT = self.working


@pytest.fixture
def store(settings: Settings, tmp_path: Path) -> Store:
    return Store(settings, tmp_path)


def test_an_api_upload_the_store_cannot_write_is_a_503_and_keeps_the_first_attachment(
    api: object, alice: User, attached: Application, store: Store
) -> None:
    first = attached.attachment.name
    url = f"/api/v1/applications/{attached.pk}/attachment/"
    client = api(alice)  # type: ignore[operator]
    store.fail()

    refused = client.put(url, {"attachment": _pdf(SECOND)}, format="multipart")

    body = assert_error(refused, 503, "storage_unavailable")
    assert "nothing was changed" in body["message"]
    assert refused["Retry-After"] == "30"
    store.mend()
    attached.refresh_from_db()
    assert attached.attachment.name == first
    assert attached.attachment.read() == FIRST
    taken = client.put(url, {"attachment": _pdf(SECOND)}, format="multipart")
    assert taken.status_code == 200
    attached.refresh_from_db()
    assert attached.attachment.read() == SECOND


def test_a_portal_upload_the_store_cannot_write_is_a_message_on_the_form(
    login: object, alice: User, attached: Application, store: Store
) -> None:
    first = attached.attachment.name
    client = login(alice)  # type: ignore[operator]
    store.fail()

    response = client.post(
        reverse("grants:application_step", args=[attached.pk, "team"]),
        {"team": "erik@uio.no\nnew@uio.no", "attachment": _pdf(SECOND)},
    )

    assert response.status_code == 200  # the form again, not a server error
    assert form_errors(response) == [
        "The file store cannot take the attachment now; nothing was changed. Try again later."
    ]
    store.mend()
    attached.refresh_from_db()
    assert attached.attachment.name == first
    assert attached.attachment.read() == FIRST
    assert [m.email for m in attached.team.all()] == ["erik@uio.no"]  # the step was not saved
