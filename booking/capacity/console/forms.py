"""Console forms of capacity bookings: the rules of a GPU type, staff cancel and refund."""

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.models import CapacityPolicy
from stargate_portal.form_errors import ServiceErrorsForm


class PolicyForm(ServiceErrorsForm):
    """A GPU type's bookable share (in percent) and horizons per tier, with the reason."""

    pool_percent = forms.DecimalField(
        label=_("Bookable share of the nodes (%)"),
        min_value=Decimal(0),
        max_value=Decimal(100),
        decimal_places=1,
        help_text=_("At most this share of the nodes can be booked in any hour."),
    )
    horizon_days_tier_1 = forms.IntegerField(
        label=_("Tier 1 books up to (days ahead)"), min_value=1, max_value=365
    )
    horizon_days_tier_2 = forms.IntegerField(
        label=_("Tier 2 books up to (days ahead)"), min_value=1, max_value=365
    )
    horizon_days_tier_3 = forms.IntegerField(
        label=_("Tier 3 books up to (days ahead)"), min_value=1, max_value=365
    )
    horizon_days_tier_4 = forms.IntegerField(
        label=_("Tier 4 books up to (days ahead)"), min_value=1, max_value=365
    )
    reason = forms.CharField(label=_("Reason"), max_length=500)

    @classmethod
    def initial_for(cls, policy: CapacityPolicy) -> dict[str, Any]:
        return {
            "pool_percent": (policy.pool_share * 100).quantize(Decimal("0.1")),
            **{f"horizon_days_tier_{t}": policy.horizon_days(t) for t in (1, 2, 3, 4)},
        }

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "pool_share": (data["pool_percent"] / 100).quantize(Decimal("0.001")),
            **{f"horizon_days_tier_{t}": data[f"horizon_days_tier_{t}"] for t in (1, 2, 3, 4)},
        }


class ReasonForm(ServiceErrorsForm):
    reason = forms.CharField(label=_("Reason"), max_length=500)
    default_error_field = "reason"


class StaffCancelForm(ReasonForm):
    refund = forms.BooleanField(
        label=_("Give every GPU-hour back, although the refund deadline has passed"),
        required=False,
    )
