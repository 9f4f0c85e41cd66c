from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from booking.models import (
    Allocation,
    Application,
    ApplicationDecision,
    Call,
    CallPool,
    CapacityAuditEntry,
    CapacityBooking,
    CapacityPolicy,
    EnergyRecomputation,
    GpuEnergyFactors,
    GpuType,
    LedgerEntry,
    Project,
    ProjectAuditEntry,
    ProjectMember,
    ReviewAssignment,
    SiteEnergyFactors,
)
from stargate_portal.admin_scale import (
    BoundedInline,
    CountSoFarPaginator,
    ProtectedHistoryAdmin,
    ProtectedHistoryMixin,
    SearchedForeignKeysAdmin,
    WrittenOrderChangeList,
)

# A foreign key to a table that grows with the site (projects, users, organisations,
# applications, calls) is a search box in the admin, never a <select> of every row: the
# site has thousands of projects and users, and a form listing them all costs seconds.
admin.site.register(GpuType, ProtectedHistoryAdmin)


@admin.register(ProjectMember)
class ProjectMemberAdmin(SearchedForeignKeysAdmin):
    list_display = ("project", "user", "role")
    autocomplete_fields = ("project", "user")


@admin.register(ReviewAssignment)
class ReviewAssignmentAdmin(SearchedForeignKeysAdmin):
    """Three assignments an application: the list counts them only so far, once, and shows
    the newest first by key (by assignment time it sorted all of them on every view: 27,700
    rows read for a call of 3,000 applications)."""

    autocomplete_fields = ("application", "reviewer", "assigned_by")
    list_display = ("application", "reviewer", "assigned_at", "conflict_declared_at")
    list_select_related = ("application", "reviewer")
    ordering = ("-pk",)
    sortable_by = ()
    show_full_result_count = False
    paginator = CountSoFarPaginator

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return WrittenOrderChangeList


class PoolInline(BoundedInline):
    model = CallPool


@admin.register(Call)
class CallAdmin(SearchedForeignKeysAdmin):
    list_display = ("title", "kind", "state", "opens_at", "closes_at")
    search_fields = ("title",)
    autocomplete_fields = ("created_by",)
    inlines = (PoolInline,)


@admin.register(Application)
class ApplicationAdmin(SearchedForeignKeysAdmin):
    list_display = ("title", "call", "organisation", "state", "submitted_at")
    list_filter = ("state", "call")
    search_fields = ("title",)
    autocomplete_fields = ("call", "applicant", "organisation")


@admin.register(Project)
class ProjectAdmin(SearchedForeignKeysAdmin):
    list_display = ("name", "organisation", "state", "created_at")
    search_fields = ("name",)
    autocomplete_fields = ("organisation", "application")


@admin.register(Allocation)
class AllocationAdmin(SearchedForeignKeysAdmin):
    autocomplete_fields = ("project",)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit data: visible in the admin, never changed there. These tables grow for ever (the
    ledger by three entries per finished job): a list counts its rows only so far, and a
    filtered one does not count the whole table a second time."""

    show_full_result_count = False
    paginator = CountSoFarPaginator

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "project", "gpu_type", "kind", "gpu_hours", "idempotency_key")
    # Newest first, in the order the entries were written (the primary key's index; the
    # ledger has no index of every project's entries by time), and in that order only: a
    # click on a column's title sorted the whole ledger.
    ordering = ("-pk",)
    sortable_by = ()

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return WrittenOrderChangeList

    list_filter = ("kind", "gpu_type")


admin.site.register(ApplicationDecision, ReadOnlyAdmin)


@admin.register(ProjectAuditEntry)
class ProjectAuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "project", "action", "actor", "reason")
    list_filter = ("action",)
    list_select_related = ("project", "actor")


@admin.register(CapacityBooking)
class CapacityBookingAdmin(ReadOnlyAdmin):
    """Raw data only: bookings change through their services (the console, the API)."""

    list_display = ("pk", "project", "gpu_type", "node_count", "starts_at", "ends_at", "state")
    list_filter = ("state", "gpu_type")
    list_select_related = ("project", "gpu_type")


@admin.register(CapacityAuditEntry)
class CapacityAuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "gpu_type", "action", "booking", "actor", "reason")
    list_filter = ("action",)
    list_select_related = ("gpu_type", "actor")


admin.site.register(CapacityPolicy, ReadOnlyAdmin)


# Energy factors: each edit is kept (the history button shows who changed what, and when);
# a correction of a past period is followed by `manage.py energy_recompute`.
@admin.register(SiteEnergyFactors)
class SiteEnergyFactorsAdmin(ProtectedHistoryMixin, SimpleHistoryAdmin):
    list_display = (
        "effective_from",
        "pue",
        "renewable_share",
        "renewable_gco2_per_kwh",
        "residual_gco2_per_kwh",
        "heat_reuse_share",
        "heat_reuse_efficiency",
        "comparison_gco2_per_kwh",
    )


@admin.register(GpuEnergyFactors)
class GpuEnergyFactorsAdmin(ProtectedHistoryMixin, SimpleHistoryAdmin):
    list_display = (
        "gpu_type",
        "effective_from",
        "full_power_watts",
        "idle_power_watts",
        "node_overhead_watts",
    )
    list_filter = ("gpu_type",)


@admin.register(EnergyRecomputation)
class EnergyRecomputationAdmin(ProtectedHistoryAdmin):
    list_display = ("at", "first_month", "last_month", "requested_by", "records_changed")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
