"""Shapes of the calls, applications, reviews and projects API."""

from decimal import Decimal
from typing import Any, cast

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from booking.energy.estimates import request_energy_kwh
from booking.energy.factors import FactorBook
from booking.grants.selectors.reviews import comments_for_applicant
from booking.grants.services.applications import EDITABLE
from booking.models import (
    AiActRisk,
    Allocation,
    Application,
    ApplicationTeamMember,
    Call,
    CallKind,
    CallPool,
    CallStatus,
    GpuType,
    LedgerEntry,
    Notification,
    Project,
    ProjectAuditEntry,
    ProjectInvitation,
    ProjectMember,
    ProjectRole,
    ReviewAssignment,
    ReviewCriterion,
)
from booking.models.calls import CRITERION_WEIGHT_MAX
from stargate_portal.api.fields import TextKeyDictField, id_field
from stargate_portal.input_limits import TEXT_MAX_CHARS, column_max_length


def hours_field(**kwargs: Any) -> serializers.DecimalField:
    """A GPU-hours amount, as the ledger stores it."""
    return serializers.DecimalField(max_digits=14, decimal_places=4, **kwargs)


GPU_TYPE_NAME_MAX = column_max_length(GpuType, "name")


def hours_by_gpu_type(**kwargs: Any) -> TextKeyDictField:
    """``{"H100": 4000, "H200": 500}``: GPU-hours (≥ 0) per GPU type name."""
    return TextKeyDictField(
        key_max_length=GPU_TYPE_NAME_MAX, child=hours_field(min_value=Decimal(0)), **kwargs
    )


@extend_schema_field(
    {
        "type": "array",
        "items": {"oneOf": [{"type": "string", "maxLength": 200}, {"type": "integer"}]},
        "minItems": 2,
        "maxItems": 2,
        "example": ["Scientific excellence", 50],
    }
)
class CriterionField(serializers.Field):
    """``["Scientific excellence", 50]``: a review criterion's name and its weight."""

    name_field = serializers.CharField(max_length=column_max_length(ReviewCriterion, "name"))
    weight_field = serializers.IntegerField(min_value=1, max_value=CRITERION_WEIGHT_MAX)
    default_error_messages = {"invalid": "Give a criterion as [name, weight]."}

    def to_internal_value(self, data: Any) -> tuple[str, int]:
        if not isinstance(data, list) or len(data) != 2:
            self.fail("invalid")
        return self.name_field.run_validation(data[0]), self.weight_field.run_validation(data[1])

    def to_representation(self, value: Any) -> Any:
        return list(value)


class PoolSerializer(serializers.ModelSerializer):
    gpu_type = serializers.CharField(source="gpu_type.name")
    remaining_gpu_hours = hours_field(read_only=True)

    class Meta:
        model = CallPool
        fields = ("gpu_type", "gpu_hours", "awarded_gpu_hours", "remaining_gpu_hours")
        read_only_fields = fields


class CriterionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReviewCriterion
        fields = ("id", "name", "weight")
        read_only_fields = fields


class CallSerializer(serializers.ModelSerializer):
    pools = PoolSerializer(many=True, read_only=True)
    criteria = CriterionSerializer(many=True, read_only=True)
    state = serializers.SerializerMethodField(
        help_text="`open` exactly when the call accepts applications now; `upcoming` before "
        "its opening time; `closed` after its deadline or when staff closed it."
    )
    accepts_submissions = serializers.SerializerMethodField()

    class Meta:
        model = Call
        fields = (
            "id",
            "title",
            "description",
            "kind",
            "state",
            "opens_at",
            "closes_at",
            "allowed_tiers",
            "max_request_gpu_hours",
            "pools",
            "criteria",
            "accepts_submissions",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=CallStatus.choices))
    def get_state(self, obj: Call) -> str:
        return str(obj.status().value)

    def get_accepts_submissions(self, obj: Call) -> bool:
        return obj.accepts_submissions()


class CallInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=column_max_length(Call, "title"))
    description = serializers.CharField(max_length=TEXT_MAX_CHARS)
    kind = serializers.ChoiceField(choices=CallKind.choices, default=CallKind.STANDARD)
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    allowed_tiers = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=4), max_length=4
    )
    max_request_gpu_hours = hours_field(min_value=Decimal(1))
    pools = hours_by_gpu_type()
    criteria = serializers.ListField(child=CriterionField(), required=False, max_length=20)


# The editable fields are the service's: one list, so the API cannot drift from it.
APPLICATION_FIELDS = EDITABLE


class ApplicationSerializer(serializers.ModelSerializer):
    call: serializers.PrimaryKeyRelatedField[Call] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    organisation = serializers.IntegerField(source="organisation_id", read_only=True)
    requests = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()
    energy_estimate_kwh = serializers.SerializerMethodField()
    attachment = serializers.SerializerMethodField()
    comments_for_applicant = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields: tuple[str, ...] = (
            "id",
            "call",
            "organisation",
            "state",
            *APPLICATION_FIELDS,
            "requests",
            "team",
            "energy_estimate_kwh",
            "attachment",
            "submitted_at",
            "decided_at",
            "decision_reason",
            "comments_for_applicant",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_requests(self, obj: Application) -> dict[str, str]:
        return {r.gpu_type.name: str(r.gpu_hours) for r in obj.requests.all()}

    def get_team(self, obj: Application) -> list[str]:
        return [m.email for m in obj.team.all()]

    def get_energy_estimate_kwh(self, obj: Application) -> str:
        # The factors are read once per response, not once per application of a list.
        context = cast(dict[str, Any], self.context)
        book = context.setdefault("energy_factors", None) or FactorBook()
        context["energy_factors"] = book
        requests = ((r.gpu_type, r.gpu_hours) for r in obj.requests.all())
        return str(request_energy_kwh(requests, book=book))

    def get_attachment(self, obj: Application) -> str | None:
        return (obj.attachment.name or "").rsplit("/", 1)[-1] if obj.attachment else None

    def get_comments_for_applicant(self, obj: Application) -> list[dict[str, Any]]:
        """Comments reviewers chose to share, without reviewer identities, after a decision."""
        return comments_for_applicant(obj)


class ApplicationInputSerializer(serializers.ModelSerializer):
    call = serializers.PrimaryKeyRelatedField(queryset=Call.objects.all(), required=True)
    organisation = id_field()
    requests = hours_by_gpu_type(required=False)
    team = serializers.ListField(
        child=serializers.EmailField(max_length=column_max_length(ApplicationTeamMember, "email")),
        required=False,
        max_length=50,
    )
    ai_act_risk = serializers.ChoiceField(
        choices=AiActRisk.choices, required=False, allow_blank=True
    )

    class Meta:
        model = Application
        fields: tuple[str, ...] = ("call", "organisation", *APPLICATION_FIELDS, "requests", "team")
        extra_kwargs = {
            "title": {"required": True},
            **{
                name: {"max_length": TEXT_MAX_CHARS}
                for name in (
                    "abstract",
                    "case_for_support",
                    "model_description",
                    "dataset_provenance",
                )
            },
        }


class ApplicationUpdateSerializer(ApplicationInputSerializer):
    class Meta(ApplicationInputSerializer.Meta):
        fields = (*APPLICATION_FIELDS, "requests", "team")


class AttachmentSerializer(serializers.Serializer):
    attachment = serializers.FileField()


class StaffApplicationSerializer(ApplicationSerializer):
    applicant = serializers.EmailField(source="applicant.email", read_only=True)
    tier = serializers.SerializerMethodField()
    reviewers = serializers.SerializerMethodField()

    class Meta(ApplicationSerializer.Meta):
        fields = (*ApplicationSerializer.Meta.fields, "applicant", "tier", "reviewers")
        read_only_fields = fields

    def get_tier(self, obj: Application) -> int:
        return int(obj.organisation.priority_tier())

    def get_reviewers(self, obj: Application) -> list[dict[str, Any]]:
        return [
            {"assignment": a.pk, "reviewer": a.reviewer.email, "conflict": not a.is_active}
            for a in obj.assignments.all()
        ]


class AssignInputSerializer(serializers.Serializer):
    reviewer = serializers.EmailField(max_length=column_max_length(User, "email"))


class AwardInputSerializer(serializers.Serializer):
    gpu_hours = hours_by_gpu_type()
    reason = serializers.CharField(max_length=5000)
    starts_on = serializers.DateField(required=False, allow_null=True)
    ends_on = serializers.DateField(required=False, allow_null=True)


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class RankedSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    application = serializers.IntegerField()
    title = serializers.CharField()
    organisation = serializers.CharField()
    tier = serializers.IntegerField()
    weighted_score = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    reviews = serializers.IntegerField()
    requested_gpu_hours = serializers.DictField(child=serializers.CharField())


class AssignmentSerializer(serializers.ModelSerializer):
    application = serializers.SerializerMethodField()
    criteria = serializers.SerializerMethodField()
    scores = serializers.SerializerMethodField()

    class Meta:
        model = ReviewAssignment
        fields = ("id", "application", "criteria", "scores", "assigned_at")
        read_only_fields = fields

    def get_application(self, obj: ReviewAssignment) -> dict[str, Any]:
        a = obj.application
        return {
            "id": a.pk,
            "title": a.title,
            "state": a.state,
            "call": a.call.title,
            "abstract": a.abstract,
            "case_for_support": a.case_for_support,
            "model_description": a.model_description,
            "requests": {r.gpu_type.name: str(r.gpu_hours) for r in a.requests.all()},
        }

    def get_criteria(self, obj: ReviewAssignment) -> list[dict[str, Any]]:
        return [
            {"id": c.pk, "name": c.name, "weight": c.weight}
            for c in obj.application.call.criteria.all()
        ]

    def get_scores(self, obj: ReviewAssignment) -> list[dict[str, Any]]:
        return [
            {
                "criterion": s.criterion_id,
                "score": s.score,
                "comment": s.comment,
                "for_applicant": s.for_applicant,
            }
            for s in obj.scores.all()
        ]


class ScoreInputSerializer(serializers.Serializer):
    criterion = id_field()
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    for_applicant = serializers.BooleanField(default=False)


class ScoresInputSerializer(serializers.Serializer):
    scores: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=ScoreInputSerializer(), max_length=50
    )


class ProjectSerializer(serializers.ModelSerializer):
    organisation = serializers.CharField(source="organisation.name")
    tier = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ("id", "name", "organisation", "tier", "state", "application", "created_at")
        read_only_fields = fields

    def get_tier(self, obj: Project) -> int:
        return int(obj.priority_tier())


class ProjectMemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = ProjectMember
        fields = ("id", "email", "role")
        read_only_fields = ("id", "email")


class InviteInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=column_max_length(ProjectInvitation, "email"))
    role = serializers.ChoiceField(choices=ProjectRole.choices, default=ProjectRole.MEMBER)


class RoleInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ProjectRole.choices)


class InvitationSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.name")

    class Meta:
        model = ProjectInvitation
        fields = ("id", "project", "email", "role", "created_at", "accepted_at")
        read_only_fields = fields


class AllocationSerializer(serializers.ModelSerializer):
    gpu_type = serializers.CharField(source="gpu_type.name")

    class Meta:
        model = Allocation
        fields = ("id", "gpu_type", "starts_on", "ends_on")
        read_only_fields = fields


class BalanceSerializer(serializers.Serializer):
    gpu_type = serializers.CharField()
    granted_gpu_hours = hours_field()
    held_gpu_hours = hours_field()
    charged_gpu_hours = hours_field()
    available_gpu_hours = hours_field()


class LedgerEntrySerializer(serializers.ModelSerializer):
    gpu_type = serializers.CharField(source="gpu_type.name")
    actor = serializers.EmailField(source="actor.email", allow_null=True, default=None)

    class Meta:
        model = LedgerEntry
        fields = (
            "id",
            "created_at",
            "kind",
            "gpu_type",
            "gpu_hours",
            "idempotency_key",
            "actor",
            "reason",
        )
        read_only_fields = fields


class MovementInputSerializer(serializers.Serializer):
    gpu_type = serializers.CharField(max_length=GPU_TYPE_NAME_MAX)
    gpu_hours = hours_field()
    reason = serializers.CharField(max_length=column_max_length(LedgerEntry, "reason"))
    idempotency_key = serializers.CharField(max_length=150)


class ExtendInputSerializer(serializers.Serializer):
    ends_on = serializers.DateField()
    reason = serializers.CharField(max_length=5000)


class ProjectAuditEntrySerializer(serializers.ModelSerializer):
    """A staff action on a project: who, when, what (before → after) and why."""

    actor = serializers.EmailField(source="actor.email", allow_null=True, default=None)
    gpu_type = serializers.CharField(
        source="allocation.gpu_type.name", allow_null=True, default=None
    )
    before = serializers.DictField()
    after = serializers.DictField()

    class Meta:
        model = ProjectAuditEntry
        fields = (
            "id",
            "created_at",
            "action",
            "allocation",
            "gpu_type",
            "actor",
            "reason",
            "before",
            "after",
        )
        read_only_fields = fields


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ("id", "subject", "body", "url", "read_at", "created_at")
        read_only_fields = fields
