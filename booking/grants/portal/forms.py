"""Portal forms of the grant flow: input shapes only; the rules live in the services."""

import re
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation
from accounts.portal.forms import DateInput
from booking.grants.services.applications import REQUIRED_TO_SUBMIT
from booking.grants.services.reviews import ScoreInput
from booking.models import (
    AiActRisk,
    Application,
    Call,
    LedgerEntryKind,
    ProjectInvitation,
    ProjectRole,
)
from booking.models.applications import MODEL_SIZE_MAX_BILLION_PARAMETERS, WALLTIME_MAX_HOURS
from booking.models.calls import ReviewCriterion
from booking.models.reviews import ReviewScore
from stargate_portal.form_errors import ServiceErrorsForm
from stargate_portal.input_limits import TEXT_MAX_CHARS, column_max_length

GPU_HOURS_PREFIX = "gpu_hours_"
MAX_GPU_HOURS = Decimal(10) ** 10  # what a GPU-hours field holds (14 digits, 4 decimals)
_SEPARATORS = re.compile(r"[\s,;]+")
TEAM_MAX_CHARS = 50 * 256  # fifty addresses and their separators


def plain(value: Decimal) -> Decimal:
    """A decimal as people write it: 4000 rather than 4000.0000 or 4E+3."""
    integral = value.to_integral_value()
    return integral if value == integral else value.normalize()


def hours_field(**kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(
        max_digits=14, decimal_places=4, widget=forms.NumberInput(attrs={"step": "any"}), **kwargs
    )


class ApplicationStepForm(ServiceErrorsForm):
    """One step of the application form: it reads and saves part of a draft.

    Every input may be left empty to save a draft; submission requires more (the services
    decide), so only what is optional for submission too is labelled optional.
    """

    @property
    def optional_fields(self) -> set[str]:
        optional = {name for name, field in self.fields.items() if not field.required}
        return optional - set(REQUIRED_TO_SUBMIT)

    @classmethod
    def initial_for(cls, application: Application) -> dict[str, Any]:
        raise NotImplementedError

    def update_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``application_update`` this step saves."""
        raise NotImplementedError


class BasicsForm(ApplicationStepForm):
    """Step 1: what the work is and why it deserves GPU time."""

    title = forms.CharField(label=_("Title"), max_length=column_max_length(Application, "title"))
    abstract = forms.CharField(
        label=_("Abstract"),
        required=False,
        max_length=TEXT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("A short public summary of the work, a few sentences."),
    )
    case_for_support = forms.CharField(
        label=_("Case for support"),
        required=False,
        max_length=TEXT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text=_("Why this work needs this much GPU time, and what it will achieve."),
    )

    @classmethod
    def initial_for(cls, application: Application) -> dict[str, Any]:
        return {name: getattr(application, name) for name in cls.base_fields}

    def update_kwargs(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in ("title", "abstract", "case_for_support")}


class OrganisationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} · {obj.priority_tier().label}"


class NewApplicationForm(BasicsForm):
    """Step 1 of a new application: also the organisation it is made for."""

    organisation = OrganisationChoiceField(
        label=_("Organisation"),
        queryset=Organisation.objects.none(),
        help_text=_("The organisation you apply for decides the priority tier."),
    )
    field_order = ("organisation", "title", "abstract", "case_for_support")

    def __init__(self, *args: Any, organisations: QuerySet[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["organisation"])
        field.queryset = organisations


class ResourcesForm(ApplicationStepForm):
    """Step 2: GPU-hours per GPU type the call offers, the job shape and the planned dates."""

    gpus_per_job = forms.IntegerField(
        label=_("GPUs per job"),
        required=False,
        min_value=1,
        max_value=32767,  # the column's range
        help_text=_("How many GPUs a typical job uses at once."),
    )
    typical_walltime_hours = forms.IntegerField(
        label=_("Typical walltime (hours)"),
        required=False,
        min_value=1,
        max_value=WALLTIME_MAX_HOURS,
    )
    planned_start = forms.DateField(label=_("Planned start"), required=False, widget=DateInput())
    planned_end = forms.DateField(label=_("Planned end"), required=False, widget=DateInput())

    def __init__(self, *args: Any, call: Call, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cap = plain(call.max_request_gpu_hours)
        names = []
        for pool in call.pools.all():
            name = f"{GPU_HOURS_PREFIX}{pool.gpu_type.name}"
            self.fields[name] = hours_field(
                label=gettext("%(gpu)s GPU-hours") % {"gpu": pool.gpu_type.name},
                required=False,
                min_value=Decimal(0),
                help_text=gettext("%(gpu)s: %(memory)s GB, %(watts)s W per GPU.")
                % {
                    "gpu": pool.gpu_type.name,
                    "memory": pool.gpu_type.memory_gb,
                    "watts": pool.gpu_type.power_watts,
                },
            )
            names.append(name)
        self.gpu_field_names = names
        self.cap = cap
        self.error_groups = {"requests": names, "max_request_gpu_hours": names}

    def gpu_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.gpu_field_names]

    def job_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("gpus_per_job", "typical_walltime_hours")]

    def date_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("planned_start", "planned_end")]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["requests"] = self.requested_hours(cleaned)
        return cleaned

    def requested_hours(self, cleaned: dict[str, Any]) -> dict[str, Decimal]:
        """GPU-hours per type name; a type the call does not offer is passed on for the
        service to refuse (a stale page or a crafted request)."""
        requests = {}
        for key, raw in self.data.items():
            if not key.startswith(GPU_HOURS_PREFIX):
                continue
            name = key.removeprefix(GPU_HOURS_PREFIX)
            value = cleaned.get(key) if key in self.fields else _decimal_or_none(raw)
            if value is not None:
                requests[name] = value
        return requests

    def update_kwargs(self) -> dict[str, Any]:
        names = ("requests", "gpus_per_job", "typical_walltime_hours", "planned_start")
        return {name: self.cleaned_data[name] for name in (*names, "planned_end")}

    @classmethod
    def initial_for(cls, application: Application) -> dict[str, Any]:
        initial = {
            name: getattr(application, name)
            for name in ("gpus_per_job", "typical_walltime_hours", "planned_start", "planned_end")
        }
        for request in application.requests.all():
            initial[f"{GPU_HOURS_PREFIX}{request.gpu_type.name}"] = plain(request.gpu_hours)
        return initial


def requested_hours_in(data: Any) -> dict[str, Decimal]:
    """GPU-hours per type name in raw form data, skipping what is not a number (yet) or not
    one a request can hold."""
    requests = {}
    for key, raw in data.items():
        value = _decimal_or_none(raw) if key.startswith(GPU_HOURS_PREFIX) else None
        if value is not None and 0 < value < MAX_GPU_HOURS:
            requests[key.removeprefix(GPU_HOURS_PREFIX)] = value
    return requests


def _decimal_or_none(raw: Any) -> Decimal | None:
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


class ScienceForm(ApplicationStepForm):
    """Step 3: the model, the data, open science and the EU AI Act self-assessment."""

    model_description = forms.CharField(
        label=_("Model description"),
        required=False,
        max_length=TEXT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Architecture, training method, what the model is for."),
    )
    model_size_billion_parameters = forms.DecimalField(
        label=_("Model size (billion parameters)"),
        required=False,
        min_value=Decimal(0),
        max_value=MODEL_SIZE_MAX_BILLION_PARAMETERS,
        max_digits=10,
        decimal_places=3,
    )
    dataset_provenance = forms.CharField(
        label=_("Dataset provenance"),
        required=False,
        max_length=TEXT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Where the training data comes from and how it was collected."),
    )
    dataset_licence = forms.CharField(
        label=_("Dataset licence"),
        required=False,
        max_length=column_max_length(Application, "dataset_licence"),
        help_text=_("e.g. CC-BY 4.0, proprietary with a licence agreement."),
    )
    personal_data = forms.BooleanField(label=_("The data includes personal data"), required=False)
    publish_results = forms.BooleanField(label=_("We will publish the results"), required=False)
    publish_weights = forms.BooleanField(
        label=_("We will publish the model weights"), required=False
    )
    publish_code = forms.BooleanField(label=_("We will publish the code"), required=False)
    ai_act_risk = forms.ChoiceField(
        label=_("EU AI Act risk category"),
        required=False,
        choices=[("", _("Not assessed yet")), *AiActRisk.choices],
        help_text=_("Your own assessment of the system or model under the EU AI Act."),
    )

    @classmethod
    def initial_for(cls, application: Application) -> dict[str, Any]:
        return {name: getattr(application, name) for name in cls.base_fields}

    def update_kwargs(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.base_fields}


class TeamForm(ApplicationStepForm):
    """Step 4: who else works on it (invited when awarded) and the one PDF attachment."""

    team = forms.CharField(
        label=_("Team members' e-mail addresses"),
        required=False,
        max_length=TEAM_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "One per line. When the application is awarded, each is invited to the project; "
            "people without an account are asked to sign up first."
        ),
    )
    attachment = forms.FileField(
        label=_("Attachment (PDF)"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "application/pdf,.pdf"}),
        help_text=_("One PDF, at most 10 MB: e.g. a detailed work plan. Uploading replaces it."),
    )

    def clean_team(self) -> list[str]:
        emails = [e for e in _SEPARATORS.split(self.cleaned_data["team"]) if e]
        invalid = []
        for email in emails:
            try:
                forms.EmailField().clean(email)
            except forms.ValidationError:
                invalid.append(email)
        if invalid:
            raise forms.ValidationError(
                gettext("Not an e-mail address: %(emails)s.") % {"emails": ", ".join(invalid)}
            )
        return emails

    def update_kwargs(self) -> dict[str, Any]:
        return {"team": self.cleaned_data["team"]}

    @classmethod
    def initial_for(cls, application: Application) -> dict[str, Any]:
        return {"team": "\n".join(member.email for member in application.team.all())}


class ScoreForm(ServiceErrorsForm):
    """A reviewer's score (1-5) and comment per criterion of the call."""

    SCORES = [(n, str(n)) for n in range(1, 6)]

    def __init__(
        self,
        *args: Any,
        criteria: list[ReviewCriterion],
        scores: list[ReviewScore],
        **kwargs: Any,
    ) -> None:
        given = {s.criterion_id: s for s in scores}
        initial: dict[str, Any] = {}
        for criterion_id, score in given.items():
            initial[f"score_{criterion_id}"] = score.score
            initial[f"comment_{criterion_id}"] = score.comment
            initial[f"for_applicant_{criterion_id}"] = score.for_applicant
        super().__init__(*args, initial=initial, **kwargs)
        self.criteria = criteria
        for criterion in criteria:
            self.fields[f"score_{criterion.pk}"] = forms.TypedChoiceField(
                label=gettext("Score for %(criterion)s (weight %(weight)s)")
                % {"criterion": criterion.name, "weight": criterion.weight},
                choices=self.SCORES,
                coerce=int,
                widget=forms.RadioSelect,
                help_text=_("1 poor · 2 fair · 3 good · 4 very good · 5 excellent"),
            )
            self.fields[f"comment_{criterion.pk}"] = forms.CharField(
                label=gettext("Comment on %(criterion)s") % {"criterion": criterion.name},
                required=False,
                max_length=5000,
                widget=forms.Textarea(attrs={"rows": 3}),
            )
            self.fields[f"for_applicant_{criterion.pk}"] = forms.BooleanField(
                label=_("Show this comment to the applicant (without your name)"), required=False
            )
            self.error_groups[f"criterion_{criterion.pk}"] = [f"score_{criterion.pk}"]

    def by_criterion(self) -> list[tuple[ReviewCriterion, list[forms.BoundField]]]:
        return [
            (c, [self[f"score_{c.pk}"], self[f"comment_{c.pk}"], self[f"for_applicant_{c.pk}"]])
            for c in self.criteria
        ]

    def score_inputs(self) -> list[ScoreInput]:
        return [
            ScoreInput(
                criterion_id=c.pk,
                score=self.cleaned_data[f"score_{c.pk}"],
                comment=self.cleaned_data[f"comment_{c.pk}"],
                for_applicant=self.cleaned_data[f"for_applicant_{c.pk}"],
            )
            for c in self.criteria
        ]


class ConflictForm(ServiceErrorsForm):
    default_error_field = "reason"

    reason = forms.CharField(
        label=_("Conflict of interest"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "e.g. a recent co-author, a competitor, a former student. You are taken off the "
            "application and your scores no longer count."
        ),
    )


class InviteForm(ServiceErrorsForm):
    default_error_field = "email"

    email = forms.EmailField(
        label=_("E-mail address"), max_length=column_max_length(ProjectInvitation, "email")
    )
    role = forms.ChoiceField(label=_("Role"), choices=ProjectRole.choices, initial="member")


class ProjectRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=ProjectRole.choices)


class LedgerFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("All types")), *LedgerEntryKind.choices]
    )
    gpu_type = forms.ChoiceField(label=_("GPU type"), required=False)

    def __init__(self, *args: Any, gpu_types: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["gpu_type"])
        field.choices = [("", _("All GPU types")), *((n, n) for n in gpu_types)]
