"""Domain errors of the grant services shown on forms, next to the field they are about.

Some service details name a group of inputs rather than one field (``requests`` is the GPU-hours
per GPU type, ``pools`` the pool per type): a form lists such keys in ``error_groups`` and the
message goes next to each input of the group that was filled in (or the first one).

The details of a ``ValidationFailed`` are messages; those of other refusals are figures (the
cap, what remains), so there the error's own message is shown.
"""

from typing import Any

from django import forms

from stargate_portal.errors import DomainError, ValidationFailed


class ServiceErrorsForm(forms.Form):
    """A form that shows a service's ``DomainError`` next to its fields."""

    # a refusal without details (a conflict of state) is about this field, when set
    default_error_field: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # detail key → the inputs that stand for it on this form
        self.error_groups: dict[str, list[str]] = {}

    def add_service_error(self, error: DomainError) -> None:
        form_add_service_error(self, error)

    def group_targets(self, key: str) -> list[str]:
        group = self.error_groups.get(key, [])
        filled = [name for name in group if str(self.data.get(self.add_prefix(name), "")).strip()]
        return filled or group[:1]


def form_add_service_error(form: ServiceErrorsForm, error: DomainError) -> None:
    """Each detail next to its field or group; anything else once above the form."""
    details = dict(error.details)
    if not details and form.default_error_field in form.fields:
        details = {form.default_error_field: [error.message]}
    placed = False
    for key, messages in details.items():
        if key in form.error_groups:
            targets = form.group_targets(key)
        elif key in form.fields:
            targets = [key]
        else:
            continue
        for target in targets:
            for text in _texts(messages, error):
                if text not in form.errors.get(target, []):
                    form.add_error(target, text)
                    placed = True
    if not placed:
        form.add_error(None, error.message)


def _texts(messages: Any, error: DomainError) -> list[str]:
    if isinstance(error, ValidationFailed) and isinstance(messages, list | tuple) and messages:
        return [str(m) for m in messages]
    return [error.message]
