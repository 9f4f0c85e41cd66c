"""Console forms of the grant flow: calls, reviewer assignment, decisions, project operations."""

import re
import uuid
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.portal.forms import DateInput
from accounts.tiers import PriorityTier
from booking.grants.portal.forms import hours_field, plain
from booking.models import (
    Application,
    Call,
    CallKind,
    CallPool,
    GpuType,
    ProjectState,
    ReviewCriterion,
)
from booking.models.calls import CRITERION_WEIGHT_MAX
from stargate_portal.errors import DomainError
from stargate_portal.form_errors import ServiceErrorsForm
from stargate_portal.input_limits import TEXT_MAX_CHARS, column_max_length

POOL_PREFIX = "pool_"
AWARD_PREFIX = "award_"
CRITERION_NAME_MAX = column_max_length(ReviewCriterion, "name")
CRITERIA_MAX_CHARS = 20 * (CRITERION_NAME_MAX + 8)  # twenty lines of "name: weight"
_CRITERION = re.compile(r"^(?P<name>.+?)\s*[:=]\s*(?P<weight>\d+)\s*$")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class CallForm(ServiceErrorsForm):
    """Create or edit a call; kind and criteria are set when the call is created."""

    title = forms.CharField(label=_("Title"), max_length=column_max_length(Call, "title"))
    description = forms.CharField(
        label=_("Description"),
        max_length=TEXT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=CallKind.choices,
        help_text=_("Rolling access has a smaller cap per application and is decided in order."),
    )
    opens_at = forms.DateTimeField(label=_("Opens at (UTC)"), widget=DateTimeInput())
    closes_at = forms.DateTimeField(
        label=_("Closes at (UTC)"),
        required=False,
        widget=DateTimeInput(),
        help_text=_("Required for a call for proposals; rolling access may stay open."),
    )
    allowed_tiers = forms.TypedMultipleChoiceField(
        label=_("Tiers allowed to apply"),
        choices=PriorityTier.choices,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )
    max_request_gpu_hours = hours_field(label=_("Maximum request per application (GPU-hours)"))
    criteria = forms.CharField(
        label=_("Review criteria and weights"),
        required=False,
        max_length=CRITERIA_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "One per line as “name: weight”. Leave empty for the defaults: scientific or "
            "technical excellence 50, feasibility 30, European impact 20."
        ),
    )

    def __init__(self, *args: Any, call: Call | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.call = call
        if call is not None:  # the kind and criteria of a call are fixed once it exists
            del self.fields["kind"]
            del self.fields["criteria"]
        names = []
        for gpu_type in GpuType.objects.order_by("name"):
            name = f"{POOL_PREFIX}{gpu_type.name}"
            self.fields[name] = hours_field(
                label=gettext("%(gpu)s pool (GPU-hours)") % {"gpu": gpu_type.name},
                required=False,
                help_text=gettext("Leave empty if the call does not offer %(gpu)s.")
                % {"gpu": gpu_type.name},
            )
            names.append(name)
        self.pool_field_names = names
        self.error_groups = {"pools": names}

    def pool_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.pool_field_names]

    def main_fields(self) -> list[forms.BoundField]:
        return [field for field in self.visible_fields() if field.name not in self.pool_field_names]

    def clean_criteria(self) -> list[tuple[str, int]] | None:
        criteria = []
        for line in self.cleaned_data["criteria"].splitlines():
            if not line.strip():
                continue
            match = _CRITERION.match(line.strip())
            if (
                match is None
                or not 1 <= int(match["weight"]) <= CRITERION_WEIGHT_MAX
                or len(match["name"]) > CRITERION_NAME_MAX
            ):
                raise forms.ValidationError(
                    gettext(
                        "Write “name: weight” with a name of at most %(n)s characters and a "
                        "whole weight from 1 to %(max)s: %(line)s"
                    )
                    % {"n": CRITERION_NAME_MAX, "max": CRITERION_WEIGHT_MAX, "line": line.strip()}
                )
            criteria.append((match["name"], int(match["weight"])))
        return criteria or None

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["pools"] = {
            name.removeprefix(POOL_PREFIX): data.pop(name)
            for name in self.pool_field_names
            if data.get(name) is not None
        }
        for name in self.pool_field_names:
            data.pop(name, None)
        return data

    @classmethod
    def initial_for(cls, call: Call) -> dict[str, Any]:
        initial: dict[str, Any] = {
            name: getattr(call, name)
            for name in (
                "title",
                "description",
                "opens_at",
                "closes_at",
                "allowed_tiers",
                "max_request_gpu_hours",
            )
        }
        for pool in call.pools.all():
            initial[f"{POOL_PREFIX}{pool.gpu_type.name}"] = plain(pool.gpu_hours)
        return initial


class AssignReviewerForm(ServiceErrorsForm):
    """Choose a reviewer; anyone from the applicant's organisation is marked as a conflict."""

    default_error_field = "reviewer"

    reviewer = forms.TypedChoiceField(label=_("Reviewer"), coerce=int)

    def __init__(self, *args: Any, candidates: list[tuple[int, str, bool]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.TypedChoiceField, self.fields["reviewer"])
        field.choices = [
            ("", _("Choose a reviewer")),
            *(
                (
                    pk,
                    gettext("%(email)s — conflict: the applicant's organisation") % {"email": email}
                    if conflict
                    else email,
                )
                for pk, email, conflict in candidates
            ),
        ]
        field.help_text = _(
            "Reviewers from the applicant's organisation cannot be assigned; others declare any "
            "other conflict of interest themselves."
        )


class AwardForm(ServiceErrorsForm):
    """GPU-hours per GPU type the call offers (never above what remains), dates, reason."""

    starts_on = forms.DateField(label=_("Allocation starts"), required=False, widget=DateInput())
    ends_on = forms.DateField(label=_("Allocation ends"), required=False, widget=DateInput())
    reason = forms.CharField(
        label=_("Reason"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown to the applicant with the decision, and kept in the audit trail."),
    )

    def __init__(self, *args: Any, application: Application, pools: list[CallPool], **kwargs: Any):
        requested = {r.gpu_type.name: r.gpu_hours for r in application.requests.all()}
        initial: dict[str, Any] = {
            f"{AWARD_PREFIX}{p.gpu_type.name}": plain(requested[p.gpu_type.name])
            for p in pools
            if p.gpu_type.name in requested
        }
        initial |= {"starts_on": application.planned_start, "ends_on": application.planned_end}
        super().__init__(*args, initial=initial, **kwargs)
        names = []
        for pool in pools:
            name = f"{AWARD_PREFIX}{pool.gpu_type.name}"
            self.fields[name] = hours_field(
                label=gettext("%(gpu)s GPU-hours") % {"gpu": pool.gpu_type.name},
                required=False,
                min_value=Decimal(0),
                help_text=gettext("Requested %(requested)s · %(remaining)s remain in the pool")
                % {
                    "requested": f"{requested.get(pool.gpu_type.name, 0):,.0f}",
                    "remaining": f"{pool.remaining_gpu_hours:,.0f}",
                },
            )
            names.append(name)
        self.order_fields([*names, "starts_on", "ends_on", "reason"])
        self.award_field_names = names
        self.error_groups = {"gpu_hours": names}

    def gpu_hours(self) -> dict[str, Decimal]:
        return {
            name.removeprefix(AWARD_PREFIX): self.cleaned_data[name]
            for name in self.award_field_names
            if self.cleaned_data.get(name)
        }

    def add_service_error(self, error: DomainError) -> None:
        remaining = error.details.get("remaining_gpu_hours")
        if isinstance(remaining, dict):
            for gpu, hours in remaining.items():
                if f"{AWARD_PREFIX}{gpu}" in self.fields:
                    self.add_error(
                        f"{AWARD_PREFIX}{gpu}",
                        gettext("Only %(hours)s GPU-hours remain in the %(gpu)s pool.")
                        % {"hours": f"{Decimal(hours):,.0f}", "gpu": gpu},
                    )
            return
        super().add_service_error(error)


class RejectForm(ServiceErrorsForm):
    default_error_field = "reason"

    reason = forms.CharField(
        label=_("Reason"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown to the applicant, and kept in the audit trail."),
    )


class MovementForm(ServiceErrorsForm):
    """A top-up or an adjustment. The idempotency key is made when the form is shown, so a
    double submit (or a reload of the POST) records the movement once."""

    default_error_field = "gpu_type"

    gpu_type = forms.ChoiceField(label=_("GPU type"))
    gpu_hours = hours_field(label=_("GPU-hours"))
    reason = forms.CharField(label=_("Reason"), max_length=500)
    idempotency_key = forms.CharField(max_length=200, widget=forms.HiddenInput)

    def __init__(self, *args: Any, gpu_types: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"idempotency_key": f"console-{uuid.uuid4()}"})
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["gpu_type"])
        field.choices = [(name, name) for name in gpu_types]
        self.error_groups = {
            "requested_gpu_hours": ["gpu_hours"],
            "available_gpu_hours": ["gpu_hours"],
        }


class ExtendForm(ServiceErrorsForm):
    default_error_field = "ends_on"

    ends_on = forms.DateField(label=_("New end date"), widget=DateInput())
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        help_text=_("Kept in the project's audit trail."),
    )


class ProjectStateForm(ServiceErrorsForm):
    default_error_field = "reason"

    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        help_text=_("Sent to the PI and managers."),
    )


class ProjectFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("All")), *ProjectState.choices],
    )
    q = forms.CharField(label=_("Name contains"), required=False, max_length=200)
