"""Console forms of the cluster pages: queue and fair-share filters, and the staff job actions."""

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.tiers import PriorityTier
from booking.jobs.services import JOB_REASON_MAX_CHARS
from booking.models import JobState
from stargate_portal.form_errors import ServiceErrorsForm

TIER_CHOICES = [("", _("All tiers")), *PriorityTier.choices]


class QueueFilterForm(forms.Form):
    """The queue by GPU type, state and tier; without a state: waiting and running jobs."""

    gpu_type = forms.ChoiceField(label=_("GPU type"), required=False)
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("Pending, held, admitted, running")), *JobState.choices],
    )
    tier = forms.TypedChoiceField(
        label=_("Tier"), required=False, coerce=int, empty_value=None, choices=TIER_CHOICES
    )

    def __init__(self, *args: Any, gpu_types: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["gpu_type"]).choices = [
            ("", _("All GPU types")),
            *((name, name) for name in gpu_types),
        ]


class FairShareFilterForm(forms.Form):
    tier = forms.TypedChoiceField(
        label=_("Tier"), required=False, coerce=int, empty_value=None, choices=TIER_CHOICES
    )
    q = forms.CharField(label=_("Project name contains"), required=False, max_length=200)


class JobActionForm(ServiceErrorsForm):
    """A staff action on one job; hold and requeue say why (the job's history keeps it)."""

    default_error_field = None

    reason = forms.CharField(
        label=_("Reason"),
        max_length=JOB_REASON_MAX_CHARS,
        help_text=_("Shown to the project in the job's history."),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)

    def __init__(self, *args: Any, reason_required: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not reason_required:
            del self.fields["reason"]
