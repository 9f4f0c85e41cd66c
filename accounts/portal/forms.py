"""Portal forms: input shapes only. The rules live in the services, which the views call."""

import re
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from accounts import selectors
from accounts.models import ApiToken, MembershipRole, Organisation, OrganisationKind
from accounts.services.tokens import MAX_TOKEN_DAYS
from accounts.time_zones import time_zone_names
from stargate_portal.input_limits import INT_MAX, column_max_length
from stargate_portal.widgets import LongSelect

_DOMAIN_SEPARATORS = re.compile(r"[\s,;]+")
EMAIL_DOMAINS_MAX_CHARS = 20 * 256  # twenty domains and their separators


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class OrganisationForm(forms.Form):
    """Create or edit an organisation; field names are the service's keyword arguments."""

    name = forms.CharField(label=_("Name"), max_length=column_max_length(Organisation, "name"))
    kind = forms.ChoiceField(label=_("Kind"), choices=OrganisationKind.choices)
    country = CountryField(blank=False).formfield(label=_("Country"), widget=LongSelect)
    registration_number = forms.CharField(
        label=_("VAT or registration number"),
        max_length=column_max_length(Organisation, "registration_number"),
        required=False,
        help_text=_("Checked against the national format of the country, e.g. 974767880 (NO)."),
    )
    website = forms.URLField(
        label=_("Website"),
        required=False,
        assume_scheme="https",
        max_length=column_max_length(Organisation, "website"),
    )
    founded_on = forms.DateField(
        label=_("Founding date"),
        required=False,
        widget=DateInput(),
        help_text=_("Required for startups: it decides whether you count as a startup."),
    )
    email_domains = forms.CharField(
        label=_("E-mail domains"),
        required=False,
        max_length=EMAIL_DOMAINS_MAX_CHARS,
        help_text=_(
            "Separate several with commas or spaces, e.g. ntnu.no, stud.ntnu.no. Once you are "
            "verified, people who confirm an address on these domains join automatically."
        ),
    )

    def clean_email_domains(self) -> list[str]:
        text: str = self.cleaned_data["email_domains"]
        return [d for d in _DOMAIN_SEPARATORS.split(text) if d]

    @classmethod
    def initial_for(cls, organisation: Organisation) -> dict[str, Any]:
        return {
            "name": organisation.name,
            "kind": organisation.kind,
            "country": str(organisation.country),
            "registration_number": organisation.registration_number,
            "website": organisation.website,
            "founded_on": organisation.founded_on,
            "email_domains": ", ".join(selectors.email_domains_of(organisation)),
        }


class JoinRequestForm(forms.Form):
    message = forms.CharField(
        label=_("Message to the organisation's admins"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Say who you are and why you want to join."),
    )


class JoinRequestDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", _("Approve")), ("deny", _("Deny"))], widget=forms.HiddenInput
    )


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=MembershipRole.choices)


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=column_max_length(ApiToken, "name"),
        help_text=_("What the token is for, e.g. “laptop” or “CI pipeline”."),
    )
    expires_in_days = forms.IntegerField(
        label=_("Expires after (days)"),
        initial=90,
        min_value=-INT_MAX,  # the service says why a number is refused
        max_value=INT_MAX,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_TOKEN_DAYS}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["expires_in_days"].help_text = gettext("Between 1 and %(max)d days.") % {
            "max": MAX_TOKEN_DAYS
        }


class DirectorySearchForm(forms.Form):
    q = forms.CharField(label=_("Search by name"), required=False, max_length=200)


class PreferencesForm(forms.Form):
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        widget=LongSelect,
        help_text=_("Bookings and their refund deadlines are shown in this zone."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [  # type: ignore[attr-defined]
            (name, name.replace("_", " ")) for name in time_zone_names()
        ]
