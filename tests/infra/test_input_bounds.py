"""Every input is bounded before it reaches the database: a walk over every write serializer
of the API (found from the OpenAPI generator, so a new endpoint is walked without being
listed) and every form of the portal and the console.

- text: a ``max_length``, never above the column it is stored in (``input_limits.py``);
- choices: no choice longer than its column;
- objects (``DictField``): keys checked like values (``TextKeyDictField``);
- lists: a ``max_length``; numbers: a lower and an upper bound (or ``max_digits``).

Where a field is stored under another name than its own, ``COLUMN_OF`` says where.
"""

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from django import forms
from django.db import models
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import spectacular_settings
from rest_framework import serializers

from accounts.models import (
    ApiToken,
    JoinRequest,
    Membership,
    Organisation,
    OrganisationDomain,
    User,
    VerificationDecision,
)
from booking.models import (
    Application,
    ApplicationTeamMember,
    CalendarFeed,
    Call,
    CapacityAuditEntry,
    CapacityBooking,
    GpuType,
    Job,
    LedgerEntry,
    ProjectAuditEntry,
    ProjectInvitation,
    ReviewAssignment,
    ReviewCriterion,
    ReviewScore,
)
from stargate_portal.api.fields import TextKeyDictField

FORM_MODULES = (
    "accounts.portal.forms",
    "accounts.console.forms",
    "booking.grants.portal.forms",
    "booking.grants.console.forms",
    "booking.jobs.portal.forms",
    "booking.admission.console.forms",
)

# The model a write serializer or form stores its fields in, by field name; None when its text
# goes to several places (a reason) or nowhere (a filter): it is then only required to be
# bounded.
MODEL_OF: dict[str, type[models.Model] | None] = {
    "OrganisationInputSerializer": Organisation,
    "RoleInputSerializer": Membership,
    "JoinRequestInputSerializer": JoinRequest,
    "ApiTokenInputSerializer": ApiToken,
    "VerificationInputSerializer": VerificationDecision,
    "CallInputSerializer": Call,
    "ApplicationInputSerializer": Application,
    "ApplicationUpdateSerializer": Application,
    "AttachmentSerializer": None,
    "AssignInputSerializer": User,
    "AwardInputSerializer": None,
    "ReasonInputSerializer": None,
    "ScoresInputSerializer": None,
    "ScoreInputSerializer": ReviewScore,
    "InviteInputSerializer": ProjectInvitation,
    "MovementInputSerializer": LedgerEntry,
    "ExtendInputSerializer": ProjectAuditEntry,
    "JobSubmitSerializer": Job,
    "JobReasonInputSerializer": None,
    "BookingCreateSerializer": CapacityBooking,
    "BookingCancelSerializer": CapacityBooking,
    "ReasonSerializer": CapacityAuditEntry,
    "CalendarFeedCreateSerializer": CalendarFeed,
    # forms
    "OrganisationForm": Organisation,
    "JoinRequestForm": JoinRequest,
    "ApiTokenForm": ApiToken,
    "VerificationDecisionForm": VerificationDecision,
    "BasicsForm": Application,
    "NewApplicationForm": Application,
    "ResourcesForm": Application,
    "ScienceForm": Application,
    "TeamForm": None,
    "ScoreForm": ReviewScore,
    "ConflictForm": ReviewAssignment,
    "InviteForm": ProjectInvitation,
    "CallForm": Call,
    "MovementForm": LedgerEntry,
    "JobSubmitForm": Job,
}
# (serializer or form, field) -> the column it is stored in, when the names differ.
COLUMN_OF: dict[tuple[str, str], "models.Field[Any, Any]"] = {
    ("BookingCancelSerializer", "reason"): CapacityBooking._meta.get_field("cancel_reason"),
    ("OrganisationInputSerializer", "email_domains"): OrganisationDomain._meta.get_field("domain"),
    ("ApplicationInputSerializer", "team"): ApplicationTeamMember._meta.get_field("email"),
    ("ApplicationUpdateSerializer", "team"): ApplicationTeamMember._meta.get_field("email"),
    ("ApplicationInputSerializer", "requests"): GpuType._meta.get_field("name"),
    ("ApplicationUpdateSerializer", "requests"): GpuType._meta.get_field("name"),
    ("CallInputSerializer", "pools"): GpuType._meta.get_field("name"),
    ("CallInputSerializer", "criteria"): ReviewCriterion._meta.get_field("name"),
    ("AwardInputSerializer", "gpu_hours"): GpuType._meta.get_field("name"),
    ("AssignInputSerializer", "reviewer"): User._meta.get_field("email"),
    ("MovementInputSerializer", "gpu_type"): GpuType._meta.get_field("name"),
    ("JobSubmitSerializer", "gpu_type"): GpuType._meta.get_field("name"),
    ("ConflictForm", "reason"): ReviewAssignment._meta.get_field("conflict_reason"),
    ("MovementForm", "gpu_type"): GpuType._meta.get_field("name"),
    ("JobSubmitForm", "gpu_type"): GpuType._meta.get_field("name"),
}
UNBOUNDED_OK = {
    # not text a person types: a file (bounded by its size), a choice among rows or a flag
    serializers.FileField,
    serializers.BooleanField,
    serializers.DateField,
    serializers.DateTimeField,
    serializers.PrimaryKeyRelatedField,
    forms.FileField,
    forms.BooleanField,
    forms.DateField,
    forms.DateTimeField,
    forms.ModelChoiceField,
}


def write_serializers() -> dict[str, serializers.Serializer[Any]]:
    """The request serializer of every POST, PUT and PATCH operation of the API."""
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    found: dict[str, serializers.Serializer[Any]] = {}
    for path, path_regex, method, view in generator._get_paths_and_endpoints():
        if method not in ("POST", "PUT", "PATCH"):
            continue
        view.request = spectacular_settings.GET_MOCK_REQUEST(method, path, view, None)
        schema = view.schema
        schema.path, schema.path_regex, schema.method = path, path_regex, method
        serializer = schema.get_request_serializer()
        if serializer is None:
            continue
        instance = serializer() if isinstance(serializer, type) else serializer
        found[type(instance).__name__] = instance
    return found


def project_forms() -> dict[str, type[forms.Form]]:
    found: dict[str, type[forms.Form]] = {}
    pending: list[type[forms.Form]] = [forms.Form]
    for module in FORM_MODULES:
        importlib.import_module(module)
    while pending:
        for form in pending.pop().__subclasses__():
            pending.append(form)
            if form.__module__ in FORM_MODULES:
                found[form.__name__] = form
    return found


def column(owner: str, name: str) -> "models.Field[Any, Any] | None":
    if (owner, name) in COLUMN_OF:
        return COLUMN_OF[owner, name]
    model = MODEL_OF.get(owner)
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except Exception:
        return None


def serializer_problems(owner: str, name: str, field: Any) -> Iterator[str]:
    where = f"{owner}.{name}"
    target = column(owner, name)
    limit = getattr(target, "max_length", None)
    if getattr(field, "read_only", False) or type(field) in UNBOUNDED_OK:
        return
    if isinstance(field, serializers.Serializer):
        for child_name, child in field.fields.items():
            yield from serializer_problems(type(field).__name__, child_name, child)
    elif isinstance(field, serializers.ListSerializer):
        if field.max_length is None:
            yield f"{where}: a list without max_length"
        yield from serializer_problems(owner, name, field.child)
    elif isinstance(field, serializers.ChoiceField):
        longest = max((len(str(c)) for c in field.choices), default=0)
        if limit is not None and longest > limit:
            yield f"{where}: a choice of {longest} characters, column holds {limit}"
    elif isinstance(field, serializers.CharField):
        if field.max_length is None:
            yield f"{where}: text without max_length"
        elif limit is not None and field.max_length > limit:
            yield f"{where}: max_length {field.max_length}, column holds {limit}"
    elif isinstance(field, serializers.DictField):
        if not isinstance(field, TextKeyDictField):
            yield f"{where}: an object whose keys are not checked (use TextKeyDictField)"
        elif limit is not None and field.key_max_length > limit:
            yield f"{where}: keys of {field.key_max_length} characters, column holds {limit}"
        yield from serializer_problems(owner, f"{name}[]", field.child)
    elif isinstance(field, serializers.ListField):
        if field.max_length is None:
            yield f"{where}: a list without max_length"
        yield from serializer_problems(owner, name, field.child)
    elif isinstance(field, serializers.DecimalField):
        if field.max_digits is None and (field.min_value is None or field.max_value is None):
            yield f"{where}: a number without bounds"
    elif isinstance(field, serializers.IntegerField | serializers.FloatField):
        if field.min_value is None or field.max_value is None:
            yield f"{where}: a number without min_value and max_value"
    elif type(field).__name__ in ("CriterionField", "CountryField"):
        return  # checks its parts itself (tested in the grants and accounts API tests)
    else:
        yield f"{where}: {type(field).__name__} is not known to this walk; say how it is bounded"


def form_problems(owner: str, name: str, field: forms.Field) -> Iterator[str]:
    where = f"{owner}.{name}"
    target = column(owner, name)
    limit = getattr(target, "max_length", None)
    if type(field) in UNBOUNDED_OK:
        return
    if isinstance(field, forms.ChoiceField):
        longest = max((len(str(value)) for value, _label in field.choices), default=0)
        if limit is not None and longest > limit:
            yield f"{where}: a choice of {longest} characters, column holds {limit}"
    elif isinstance(field, forms.CharField):
        if field.max_length is None:
            yield f"{where}: text without max_length"
        elif limit is not None and field.max_length > limit:
            yield f"{where}: max_length {field.max_length}, column holds {limit}"
    elif isinstance(field, forms.DecimalField):
        if field.max_digits is None and (field.min_value is None or field.max_value is None):
            yield f"{where}: a number without bounds"
    elif isinstance(field, forms.IntegerField | forms.FloatField) and (
        field.min_value is None or field.max_value is None
    ):
        yield f"{where}: a number without min_value and max_value"


def test_the_walk_finds_the_write_serializers_and_forms() -> None:
    assert {"JobSubmitSerializer", "InviteInputSerializer", "CallInputSerializer"} <= set(
        write_serializers()
    )
    assert {"OrganisationForm", "JobSubmitForm", "CallForm"} <= set(project_forms())


@pytest.mark.django_db
def test_every_write_serializer_field_is_bounded_by_its_column() -> None:
    found = write_serializers()
    undeclared = sorted(
        name
        for name, serializer in found.items()
        if name not in MODEL_OF and not isinstance(serializer, serializers.ModelSerializer)
    )
    assert undeclared == [], "add them to MODEL_OF"
    problems = [
        problem
        for owner, serializer in found.items()
        for name, field in serializer.fields.items()
        for problem in serializer_problems(owner, name, field)
    ]

    assert problems == []


@pytest.mark.django_db
def test_every_form_field_is_bounded_by_its_column() -> None:
    problems = [
        problem
        for owner, form in project_forms().items()
        for name, field in form.base_fields.items()
        for problem in form_problems(owner, name, field)
    ]

    assert problems == []
