"""Console forms: input shapes for staff decisions and list filters."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import VerificationState


class VerificationDecisionForm(forms.Form):
    """Approve or reject an organisation; the reason is shown to its members and audited."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Shown to the organisation's members and kept in the audit trail."),
    )
    decision = forms.ChoiceField(
        choices=[("approve", _("Approve")), ("reject", _("Reject"))], widget=forms.HiddenInput
    )


class OrganisationFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("Verification"),
        required=False,
        choices=[("", _("All")), *VerificationState.choices],
    )
    q = forms.CharField(label=_("Name contains"), required=False, max_length=200)
