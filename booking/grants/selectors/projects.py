"""Project reads scoped to the user: a project you are not a member of is 404."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from booking.models import Allocation, Project, ProjectAuditEntry, ProjectMember


def projects_of(user: User) -> QuerySet[Project]:
    """Projects the user is a member of (staff: all projects)."""
    qs = Project.objects.select_related("organisation")
    if user.is_staff:
        return qs.order_by("name", "pk")
    return qs.filter(members__user=user).order_by("name", "pk")


def project_of(user: User, pk: int) -> Project:
    return get_object_or_404(projects_of(user), pk=pk)


def project_role(user: User, project: Project) -> str | None:
    member = ProjectMember.objects.filter(project=project, user=user).only("role").first()
    return member.role if member else None


def allocations_of(project: Project) -> QuerySet[Allocation]:
    return project.allocations.select_related("gpu_type").order_by("gpu_type__name")


def audit_trail_of(project: Project) -> QuerySet[ProjectAuditEntry]:
    """Staff only: who extended, suspended or reactivated the project, when, why; newest first."""
    return project.audit_entries.select_related("actor", "allocation__gpu_type").order_by(
        "-created_at", "-pk"
    )
