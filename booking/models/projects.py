from datetime import date
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import formats
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation
from accounts.tiers import PriorityTier
from booking.models.applications import Application
from booking.models.gpu_types import GpuType


class ProjectState(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")


class Project(models.Model):
    """An awarded project: its organisation decides its tier; it spends GPU-hours per type."""

    name = models.CharField(_("name"), max_length=200)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="projects"
    )
    application = models.OneToOneField(
        Application, null=True, blank=True, on_delete=models.PROTECT, related_name="project"
    )
    state = models.CharField(max_length=16, choices=ProjectState.choices, default="active")
    max_running_gpus = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name", "pk")

    def __str__(self) -> str:
        return self.name

    def priority_tier(self) -> PriorityTier:
        """A job's tier is its project's tier: the tier of the project's organisation."""
        return self.organisation.priority_tier()


class ProjectRole(models.TextChoices):
    PI = "pi", _("Principal investigator")
    MANAGER = "manager", _("Manager")
    MEMBER = "member", _("Member")


class ProjectMember(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships"
    )
    role = models.CharField(max_length=16, choices=ProjectRole.choices)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["project", "user"], name="project_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} of {self.project_id}"


class Allocation(models.Model):
    """A project's right to one GPU type between two dates; its hours live on the ledger.

    The row is also the lock that serialises every ledger movement of (project, GPU type).
    """

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="allocations")
    gpu_type = models.ForeignKey(GpuType, on_delete=models.PROTECT, related_name="allocations")
    starts_on = models.DateField()
    ends_on = models.DateField()
    low_balance_notified = models.BooleanField(default=False)

    class Meta:
        ordering = ("project", "gpu_type__name")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["project", "gpu_type"], name="allocation_once_per_type"
            ),
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="allocation_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}/{self.gpu_type_id}"


class ProjectInvitation(models.Model):
    """An e-mail invited to a project; accepted by the person holding that e-mail."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=ProjectRole.choices, default=ProjectRole.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "pk")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["project", "email"],
                condition=models.Q(accepted_at__isnull=True),
                name="one_open_invitation_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.project_id}"


class ProjectAuditAction(models.TextChoices):
    """What a staff member did to a project, as kept in its audit trail."""

    ALLOCATION_EXTENDED = "allocation_extended", _("Allocation extended")
    PROJECT_SUSPENDED = "project_suspended", _("Project suspended")
    PROJECT_REACTIVATED = "project_reactivated", _("Project reactivated")


class ProjectAuditEntry(models.Model):
    """Audit trail of staff actions on a project that the ledger does not record.

    Who, when, what (``before`` → ``after``) and why; hours moved are on the ledger instead.
    """

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="audit_entries")
    allocation = models.ForeignKey(
        Allocation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_entries",
    )
    action = models.CharField(max_length=32, choices=ProjectAuditAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-created_at", "-pk")
        verbose_name_plural = _("project audit entries")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~models.Q(reason=""), name="project_audit_entry_has_a_reason"
            ),
            models.CheckConstraint(
                condition=models.Q(action="allocation_extended", allocation__isnull=False)
                | (~models.Q(action="allocation_extended") & models.Q(allocation__isnull=True)),
                name="project_audit_entry_allocation_iff_extension",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_id} {self.action} at {self.created_at:%Y-%m-%d %H:%M}"

    def change_display(self) -> str:
        """``before`` → ``after`` in words: an allocation's end dates, or the project's states."""
        if self.allocation is not None:
            return gettext("%(gpu)s ends on %(after)s instead of %(before)s") % {
                "gpu": self.allocation.gpu_type.name,
                "after": _date_display(self.after.get("ends_on")),
                "before": _date_display(self.before.get("ends_on")),
            }
        return gettext("%(before)s → %(after)s") % {
            "before": _state_display(self.before.get("state")),
            "after": _state_display(self.after.get("state")),
        }


def _date_display(value: str | None) -> str:
    return formats.date_format(date.fromisoformat(value)) if value else "—"


def _state_display(value: str | None) -> str:
    return str(ProjectState(value).label) if value in ProjectState.values else (value or "—")
