from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.energy.periods import report_period
from stargate_portal.errors import ValidationFailed


class PeriodForm(forms.Form):
    """Months of a report; the rule is ``report_period``'s, shown next to the fields."""

    start = forms.CharField(label=_("From (YYYY-MM)"), max_length=7, required=False)
    end = forms.CharField(label=_("To (YYYY-MM)"), max_length=7, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        first, last = report_period({})
        kwargs.setdefault("initial", {"start": f"{first:%Y-%m}", "end": f"{last:%Y-%m}"})
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            data["period"] = report_period({"from": data.get("start"), "to": data.get("end")})
        except ValidationFailed as error:
            for field, messages in error.details.items():
                self.add_error("start" if field == "from" else "end", messages)
        return data
