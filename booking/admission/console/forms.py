"""Console forms of the cluster pages: queue and fair-share filters, and the staff job actions.
Their selects are ``LongSelect``s: written in one pass, not an option template each, on the
console's busiest pages."""

from collections.abc import Mapping
from typing import Any, cast

from django import forms
from django.http import QueryDict
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.tiers import PriorityTier
from booking.jobs.services import JOB_REASON_MAX_CHARS
from booking.models import Job, JobState
from stargate_portal.admin_scale import IdsOnlyMultipleChoiceField
from stargate_portal.input_limits import ID_MAX, whole_number
from stargate_portal.widgets import LongSelect

QUEUE_ACTION_MAX_JOBS = 100
"""Jobs one post of the queue's action form acts on at most (a page shows 25)."""

TIER_CHOICES = [("", _("All tiers")), *PriorityTier.choices]


def _tier_field() -> forms.TypedChoiceField:
    """A tier to filter by, or every tier."""
    return forms.TypedChoiceField(
        label=_("Tier"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=TIER_CHOICES,
        widget=LongSelect,
    )


class QueueFilterForm(forms.Form):
    """The queue by GPU type, state and tier; without a state: waiting and running jobs."""

    gpu_type = forms.ChoiceField(label=_("GPU type"), required=False, widget=LongSelect)
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("Pending, held, admitted, running")), *JobState.choices],
        widget=LongSelect,
    )
    tier = _tier_field()

    def __init__(self, *args: Any, gpu_types: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["gpu_type"]).choices = [
            ("", _("All GPU types")),
            *((name, name) for name in gpu_types),
        ]


class FairShareFilterForm(forms.Form):
    tier = _tier_field()
    q = forms.CharField(label=_("Project name contains"), required=False, max_length=200)


class QueueActionForm(forms.Form):
    """One staff action on the jobs ticked on the queue page (as ``scontrol hold`` takes a
    list of jobs). ``actions`` maps each action to whether it needs a reason: hold and
    requeue say why, and the jobs' history keeps it."""

    action = forms.ChoiceField(label=_("Action"), widget=LongSelect)
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=JOB_REASON_MAX_CHARS,
        help_text=_("To hold or requeue; the projects see it in their jobs' history."),
    )
    # The page draws its own checkbox a row. The widget draws only the posted values: a
    # select's options would be every job of the site.
    jobs = IdsOnlyMultipleChoiceField(
        queryset=Job.objects.order_by("submitted_at", "pk"),
        widget=forms.MultipleHiddenInput,
        max_values=QUEUE_ACTION_MAX_JOBS,
        error_messages={
            "required": _("Tick the jobs to act on."),
            "max_values": _("Act on at most %(max)d jobs at a time."),
        },
    )

    def __init__(
        self, *args: Any, actions: Mapping[str, tuple[str | Promise, bool]], **kwargs: Any
    ) -> None:
        """``actions``: slug -> (title, needs a reason)."""
        super().__init__(*args, **kwargs)
        self.needs_reason = {slug: needs for slug, (_title, needs) in actions.items()}
        cast(forms.ChoiceField, self.fields["action"]).choices = [
            ("", _("Choose an action")),
            *((slug, title) for slug, (title, _needs) in actions.items()),
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        action = cleaned.get("action")
        reason = (cleaned.get("reason") or "").strip()
        if action and self.needs_reason.get(action) and not reason and "reason" not in self.errors:
            self.add_error("reason", _("Say why: the projects see the reason."))
        cleaned["reason"] = reason
        return cleaned

    def ticked(self) -> set[int]:
        """The job ids that were ticked, to tick them again when the form comes back."""
        if not self.is_bound:
            return set()
        numbers = (
            whole_number(value, ID_MAX) for value in cast(QueryDict, self.data).getlist("jobs")
        )
        return {number for number in numbers if number is not None}
