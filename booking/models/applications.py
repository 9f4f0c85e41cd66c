from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation
from booking.models.calls import Call
from booking.models.gpu_types import GpuType

MODEL_SIZE_MAX_BILLION_PARAMETERS = Decimal(100_000)
"""100 trillion parameters: fifty times the largest model trained so far."""
WALLTIME_MAX_HOURS = 24 * 366
"""A year: a typical walltime beyond it is a typing error."""


class ApplicationState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    UNDER_REVIEW = "under_review", _("Under review")
    AWARDED = "awarded", _("Awarded")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class AiActRisk(models.TextChoices):
    """EU AI Act risk category, as self-assessed by the applicant."""

    MINIMAL = "minimal", _("Minimal risk")
    LIMITED = "limited", _("Limited risk (transparency obligations)")
    HIGH = "high", _("High risk")
    GPAI = "gpai", _("General-purpose AI model")
    GPAI_SYSTEMIC = "gpai_systemic", _("General-purpose AI model with systemic risk")


class Application(models.Model):
    """A request for GPU time under a call; only drafts can be edited."""

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="applications")
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="applications"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="applications"
    )
    state = models.CharField(max_length=16, choices=ApplicationState.choices, default="draft")
    title = models.CharField(_("title"), max_length=200)
    abstract = models.TextField(_("abstract"), blank=True)
    case_for_support = models.TextField(_("case for support"), blank=True)
    gpus_per_job = models.PositiveSmallIntegerField(
        _("GPUs per job"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    typical_walltime_hours = models.PositiveSmallIntegerField(
        _("typical walltime (hours)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(WALLTIME_MAX_HOURS)],
    )
    model_description = models.TextField(_("model description"), blank=True)
    model_size_billion_parameters = models.DecimalField(
        _("model size (billion parameters)"),
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[
            MinValueValidator(Decimal(0)),
            MaxValueValidator(MODEL_SIZE_MAX_BILLION_PARAMETERS),
        ],
    )
    dataset_provenance = models.TextField(_("dataset provenance"), blank=True)
    dataset_licence = models.CharField(_("dataset licence"), max_length=200, blank=True)
    personal_data = models.BooleanField(_("uses personal data"), default=False)
    publish_results = models.BooleanField(_("will publish results"), default=False)
    publish_weights = models.BooleanField(_("will publish model weights"), default=False)
    publish_code = models.BooleanField(_("will publish code"), default=False)
    ai_act_risk = models.CharField(
        _("EU AI Act risk category"), max_length=16, choices=AiActRisk.choices, blank=True
    )
    planned_start = models.DateField(_("planned start"), null=True, blank=True)
    planned_end = models.DateField(_("planned end"), null=True, blank=True)
    attachment = models.FileField(_("attachment (PDF)"), upload_to="applications/", blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-pk")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(planned_end__isnull=True)
                | models.Q(planned_start__isnull=True)
                | models.Q(planned_end__gte=models.F("planned_start")),
                name="application_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(model_size_billion_parameters__isnull=True)
                | models.Q(
                    model_size_billion_parameters__gte=0,
                    model_size_billion_parameters__lte=MODEL_SIZE_MAX_BILLION_PARAMETERS,
                ),
                name="application_model_size_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(gpus_per_job__isnull=True) | models.Q(gpus_per_job__gte=1),
                name="application_gpus_per_job_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(typical_walltime_hours__isnull=True)
                | models.Q(
                    typical_walltime_hours__gte=1, typical_walltime_hours__lte=WALLTIME_MAX_HOURS
                ),
                name="application_walltime_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_editable(self) -> bool:
        return self.state == ApplicationState.DRAFT


class ApplicationRequest(models.Model):
    """GPU-hours of one type an application asks for."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="requests")
    gpu_type = models.ForeignKey(GpuType, on_delete=models.PROTECT, related_name="+")
    gpu_hours = models.DecimalField(max_digits=14, decimal_places=4)

    class Meta:
        ordering = ("gpu_type__name",)
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["application", "gpu_type"], name="request_once_per_type"
            ),
            models.CheckConstraint(condition=models.Q(gpu_hours__gt=0), name="request_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.gpu_hours} h {self.gpu_type_id}"


class ApplicationTeamMember(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="team")
    email = models.EmailField()

    class Meta:
        ordering = ("email",)
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["application", "email"], name="team_member_once"),
        ]

    def __str__(self) -> str:
        return self.email


class ApplicationDecision(models.Model):
    """Audit trail of staff decisions on applications."""

    class Decision(models.TextChoices):
        AWARDED = "awarded", _("Awarded")
        REJECTED = "rejected", _("Rejected")

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    awarded_gpu_hours = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-pk")

    def __str__(self) -> str:
        return f"{self.application_id} {self.decision}"
