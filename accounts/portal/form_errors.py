"""Domain errors shown on forms: each message next to its field, the rest above the form."""

from typing import Any

from django import forms

from stargate_portal.errors import DomainError


def form_add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Put ``error.details`` (field → messages) on the form's fields.

    Details about a field the form does not have, or no details at all, show the error's own
    message once above the form: it is always a whole sentence, the details may not be.
    """
    on_top = not error.details
    for field, messages in error.details.items():
        if field in form.fields:
            for message in _as_list(messages):
                form.add_error(field, str(message))
        else:
            on_top = True
    if on_top:
        form.add_error(None, error.message)


def _as_list(messages: Any) -> list[Any]:
    return list(messages) if isinstance(messages, list | tuple) else [messages]
