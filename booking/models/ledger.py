"""The append-only GPU-hour ledger: the truth behind every balance."""

from typing import Any, ClassVar, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from booking.models.gpu_types import GpuType
from booking.models.projects import Project


class LedgerEntryKind(models.TextChoices):
    """Sign convention: grant/adjustment move *granted*; hold/release move *held*;
    charge/refund move *charged*. A release and a refund are stored negative."""

    GRANT = "grant", _("Grant")
    ADJUSTMENT = "adjustment", _("Adjustment")
    HOLD = "hold", _("Hold")
    RELEASE = "release", _("Release")
    CHARGE = "charge", _("Charge")
    REFUND = "refund", _("Refund")


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete a ledger entry."""


class LedgerQuerySet(models.QuerySet["LedgerEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("ledger entries cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("ledger entries cannot be deleted")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("ledger entries cannot be updated")


class LedgerEntry(models.Model):
    # No index of its own: the indexes below lead with the project. With one, PostgreSQL could
    # read a project's whole history through it to find the entries after a checkpoint.
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name="ledger_entries", db_index=False
    )
    gpu_type = models.ForeignKey(GpuType, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=LedgerEntryKind.choices)
    gpu_hours = models.DecimalField(max_digits=14, decimal_places=4)
    idempotency_key = models.CharField(max_length=200, unique=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    """The cluster's time of the movement (``booking.cluster.clock``), set by the ledger. Not
    indexed alone: every reader by time reads one project's entries (``ledger_project_time``),
    and with an index over every project's entries by time PostgreSQL walked that one for a
    busy project's latest entries, past the other projects' (9,938 for a page of 25 on the
    benchmark site; the whole ledger since the project's last entry in the worst case)."""

    objects = LedgerQuerySet.as_manager()

    class Meta:
        ordering = ("created_at", "pk")
        verbose_name_plural = "ledger entries"
        indexes: ClassVar = [
            models.Index(fields=["project", "gpu_type", "kind"]),
            # The entries of one allocation after its checkpoint (a range of ids).
            models.Index(fields=["project", "gpu_type", "id"], name="ledger_allocation_id"),
            # A project's latest entries, and its charges of the last day or week (burn rates).
            models.Index(fields=["project", "created_at"], name="ledger_project_time"),
            # What was granted (the fair-share table of every project) without the holds and
            # charges, which grow with the jobs.
            models.Index(
                fields=["project"],
                condition=models.Q(kind__in=["grant", "adjustment"]),
                name="ledger_grants",
            ),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind__in=["grant", "hold", "charge"], gpu_hours__gt=0)
                    | models.Q(kind__in=["release", "refund"], gpu_hours__lt=0)
                    | (models.Q(kind="adjustment") & ~models.Q(gpu_hours=0))
                ),
                name="ledger_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.gpu_hours} h {self.gpu_type_id} ({self.idempotency_key})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("ledger entries cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("ledger entries cannot be deleted")


class LedgerCheckpoint(models.Model):
    """The totals of one (project, GPU type)'s entries up to ``through_entry_id``, so a balance
    reads this row and the entries after it, not the allocation's whole history.

    Written only under the allocation's row lock, which every ledger write takes before it
    inserts: no entry of the allocation with a smaller id can commit afterwards (the ids come
    from a sequence without a per-session cache). Derived data: deleting every checkpoint
    changes no balance (``booking.ledger.checkpoints``).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    gpu_type = models.ForeignKey(GpuType, on_delete=models.CASCADE, related_name="+")
    through_entry_id = models.BigIntegerField()
    granted = models.DecimalField(max_digits=16, decimal_places=4)
    held = models.DecimalField(max_digits=16, decimal_places=4)
    charged = models.DecimalField(max_digits=16, decimal_places=4)
    entries = models.PositiveIntegerField(help_text="How many entries the totals fold.")
    charged_days = models.JSONField(default=dict, blank=True)
    """Day (UTC, ISO) → GPU-hours charged net of refunds that day, over the entries folded;
    the last ``booking.ledger.checkpoints.DAYS_KEPT`` days only (the usage chart)."""
    charged_hours = models.JSONField(default=dict, blank=True)
    """Hour (its UTC start, ISO) → the same per hour, ``HOURS_KEPT`` back (the burn rates)."""
    made_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["project", "gpu_type"], name="one_ledger_checkpoint")
        ]

    def __str__(self) -> str:
        return f"{self.project_id}/{self.gpu_type_id} through {self.through_entry_id}"
