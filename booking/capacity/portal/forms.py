"""Portal forms of capacity bookings. Input shapes only: the rules (window, pool, horizon,
balance) live in ``booking.capacity.services.bookings.booking_create``.

Times are typed in the person's own time zone (the view activates it), so Django's
``DateTimeField`` turns them into UTC and refuses a local time that does not exist or happens
twice on the day the clocks change.
"""

import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from booking.models import BookingState, Project
from stargate_portal.errors import DomainError
from stargate_portal.form_errors import ServiceErrorsForm

# Refusals and the input each one is about.
CODE_FIELDS = {
    "not_aligned": "start",
    "outside_booking_horizon": "start",
    "ends_before_start": "hours",
    "too_long": "hours",
    "exceeds_bookable_pool": "node_count",
    "capacity_unavailable": "start",
    "no_allocation": "gpu_type",
    "outside_allocation": "hours",
    "insufficient_balance": "node_count",
    "project_suspended": "project",
    "permission_denied": "project",
}


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"step": 3600, **(attrs or {})}, format="%Y-%m-%dT%H:%M")


class ProjectChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class BookingForm(ServiceErrorsForm):
    """Whole nodes of one GPU type for whole hours. The idempotency key is made when the form
    is shown, so a double submit books once."""

    project = ProjectChoiceField(label=_("Project"), queryset=Project.objects.none())
    gpu_type = forms.ChoiceField(label=_("GPU type"))
    node_count = forms.IntegerField(label=_("Nodes"), min_value=1)
    start = forms.DateTimeField(label=_("Start"), widget=LocalDateTimeInput())
    hours = forms.IntegerField(label=_("Hours"), min_value=1)
    name = forms.CharField(
        label=_("Name"),
        max_length=200,
        required=False,
        help_text=_("Shown in the calendar, e.g. “NorLLM pre-training”."),
    )
    idempotency_key = forms.CharField(max_length=200, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        projects: QuerySet[Project],
        gpu_types: list[str],
        zone_name: str,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("idempotency_key", f"portal-{uuid.uuid4()}")
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["project"]).queryset = projects
        cast(forms.ChoiceField, self.fields["gpu_type"]).choices = [(n, n) for n in gpu_types]
        self.fields["start"].help_text = gettext(
            "In your time zone (%(zone)s), on a whole hour; at least %(lead)s hour ahead."
        ) % {"zone": zone_name, "lead": settings.CAPACITY_BOOKING_MIN_LEAD_HOURS}
        max_hours = settings.CAPACITY_BOOKING_MAX_HOURS
        self.fields["hours"].widget.attrs |= {"max": max_hours}
        self.fields["hours"].help_text = gettext("From 1 hour to %(h)s hours (%(d)s days).") % {
            "h": max_hours,
            "d": max_hours // 24,
        }
        self.fields["node_count"].help_text = _(
            "Whole nodes: every GPU of each node is yours for the window."
        )

    def window(self) -> tuple[datetime, datetime] | None:
        """``(starts_at, ends_at)`` in UTC once valid, else None."""
        data = getattr(self, "cleaned_data", {})
        start, hours = data.get("start"), data.get("hours")
        if start is None or not hours:
            return None
        return start, start + timedelta(hours=hours)

    def service_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``booking_create`` (without the user and GPU type)."""
        window = self.window()
        assert window is not None  # noqa: S101 - only called on a valid form
        data = self.cleaned_data
        return {
            "project": data["project"],
            "node_count": data["node_count"],
            "starts_at": window[0],
            "ends_at": window[1],
            "name": data["name"],
            "idempotency_key": data["idempotency_key"],
        }

    def add_service_error(self, error: DomainError) -> None:
        field = CODE_FIELDS.get(error.code)
        if field is not None:
            self.add_error(field, error.message)
            return
        super().add_service_error(error)


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=500, required=False, widget=forms.TextInput()
    )


class StaffCancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)
    refund = forms.BooleanField(
        label=_("Give the hours back although the refund deadline has passed"), required=False
    )


class BookingFilterForm(forms.Form):
    """My bookings by project and state."""

    project = forms.TypedChoiceField(label=_("Project"), required=False, coerce=int)
    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", _("All states")), *BookingState.choices]
    )

    def __init__(self, *args: Any, projects: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["project"]).choices = [
            ("", _("All projects")),
            *projects,
        ]
