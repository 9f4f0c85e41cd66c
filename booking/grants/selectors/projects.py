"""Project reads scoped to the user: a project you are not a member of is 404."""

from collections import defaultdict

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from booking.models import Allocation, Project, ProjectAuditEntry, ProjectMember
from booking.permissions import projects_visible_to


def projects_of(user: User) -> QuerySet[Project]:
    """Projects the user is a member of (staff: all projects)."""
    return projects_visible_to(user)


def project_of(user: User, pk: int) -> Project:
    return get_object_or_404(projects_of(user), pk=pk)


def project_role(user: User, project: Project) -> str | None:
    member = ProjectMember.objects.filter(project=project, user=user).only("role").first()
    return member.role if member else None


def allocations_of(project: Project) -> QuerySet[Allocation]:
    return project.allocations.select_related("gpu_type").order_by("gpu_type__name")


def member_projects(user: User) -> QuerySet[Project]:
    """Projects the user is a member of (staff too: only their own), by name."""
    return projects_of(user).filter(members__user=user)


def gpu_types_allocated(projects: QuerySet[Project]) -> dict[int, list[str]]:
    """Project id → names of the GPU types it has an allocation for (one query)."""
    types: dict[int, list[str]] = defaultdict(list)
    rows = (
        Allocation.objects.filter(project__in=projects.values("pk"))
        .order_by("gpu_type__name")
        .values_list("project_id", "gpu_type__name")
    )
    for project_id, name in rows:
        if name not in types[project_id]:
            types[project_id].append(name)
    return dict(types)


def audit_trail_of(project: Project) -> QuerySet[ProjectAuditEntry]:
    """Staff only: who extended, suspended or reactivated the project, when, why; newest first."""
    return project.audit_entries.select_related("actor", "allocation__gpu_type").order_by(
        "-created_at", "-pk"
    )
