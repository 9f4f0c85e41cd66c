"""Input and output shapes of the accounts API; no business rules here."""

from typing import Any

from django_countries.serializer_fields import CountryField
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import (
    ApiToken,
    JoinRequest,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationDomain,
    OrganisationKind,
)
from accounts.tiers import PriorityTier
from stargate_portal.api.fields import id_field
from stargate_portal.input_limits import column_max_length


class TierSerializer(serializers.Serializer):
    value = serializers.IntegerField()
    # Declared fields are popped off the class at runtime; only the stubs see a clash.
    label = serializers.CharField()  # type: ignore[assignment]


def tier_data(tier: PriorityTier) -> dict[str, Any]:
    return {"value": int(tier), "label": str(tier.label)}


class OrganisationSerializer(serializers.ModelSerializer):
    country = CountryField()
    email_domains = serializers.SerializerMethodField()
    priority_tier = serializers.SerializerMethodField()
    my_role = serializers.CharField(read_only=True, default=None)

    class Meta:
        model = Organisation
        fields: tuple[str, ...] = (
            "id",
            "name",
            "kind",
            "country",
            "registration_number",
            "website",
            "founded_on",
            "email_domains",
            "verification_state",
            "verification_reason",
            "verification_decided_at",
            "priority_tier",
            "my_role",
            "created_at",
        )
        read_only_fields = fields

    def get_email_domains(self, obj: Organisation) -> list[str]:
        return [d.domain for d in obj.domains.all()]

    @extend_schema_field(TierSerializer)
    def get_priority_tier(self, obj: Organisation) -> dict[str, Any]:
        return tier_data(obj.priority_tier())


class OrganisationInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=column_max_length(Organisation, "name"))
    kind = serializers.ChoiceField(choices=OrganisationKind.choices)
    country = CountryField()
    registration_number = serializers.CharField(
        max_length=column_max_length(Organisation, "registration_number"),
        required=False,
        allow_blank=True,
    )
    website = serializers.URLField(
        max_length=column_max_length(Organisation, "website"), required=False, allow_blank=True
    )
    founded_on = serializers.DateField(required=False, allow_null=True)
    email_domains = serializers.ListField(
        child=serializers.CharField(max_length=column_max_length(OrganisationDomain, "domain")),
        required=False,
        max_length=20,
    )


class DirectoryEntrySerializer(serializers.ModelSerializer):
    country = CountryField()

    class Meta:
        model = Organisation
        fields = ("id", "name", "kind", "country")
        read_only_fields = fields


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)

    class Meta:
        model = Membership
        fields = ("id", "email", "full_name", "role", "created_at")
        read_only_fields = ("id", "email", "full_name", "created_at")


class RoleInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=MembershipRole.choices)


class JoinRequestSerializer(serializers.ModelSerializer):
    organisation = DirectoryEntrySerializer(read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = JoinRequest
        fields = ("id", "organisation", "email", "message", "state", "created_at", "decided_at")
        read_only_fields = fields


class JoinRequestInputSerializer(serializers.Serializer):
    organisation = id_field()
    message = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ApiTokenSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    prefix = serializers.CharField(source="token_key", read_only=True)

    class Meta:
        model = ApiToken
        fields: tuple[str, ...] = ("id", "name", "prefix", "created", "expiry")
        read_only_fields = fields


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    """The new token, with its clear text (passed as ``context["token"]``): shown only here."""

    token = serializers.SerializerMethodField(help_text="Shown once; store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = (*ApiTokenSerializer.Meta.fields, "token")
        read_only_fields = fields

    def get_token(self, obj: ApiToken) -> str:
        return str(self.context["token"])


class ApiTokenInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=column_max_length(ApiToken, "name"))
    expires_in_days = serializers.IntegerField(min_value=1, max_value=365, default=90)


class MeOrganisationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    role = serializers.CharField()
    verification_state = serializers.CharField()
    priority_tier = TierSerializer()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    is_staff = serializers.BooleanField()
    priority_tier = TierSerializer()
    organisations = MeOrganisationSerializer(many=True)


class VerificationInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[("verified", "verified"), ("rejected", "rejected")])
    reason = serializers.CharField(max_length=2000)


class StaffOrganisationSerializer(OrganisationSerializer):
    evidence = serializers.SerializerMethodField()

    class Meta(OrganisationSerializer.Meta):
        fields = (*OrganisationSerializer.Meta.fields, "evidence")
        read_only_fields = fields

    def get_evidence(self, obj: Organisation) -> dict[str, Any]:
        from accounts.services.verification import verification_evidence

        return verification_evidence(obj)
