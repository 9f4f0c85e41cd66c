"""Who may do what in booking: project roles and reviewers. Services call these; pages and
API views call the same functions to decide what to offer (never a copy of the rule).

Staff may do everything a PI or manager may (``stargate_portal.permissions`` says who is
staff).
"""

from django.db.models import Exists, OuterRef, QuerySet

from accounts.models import User
from booking.models import REVIEWERS_GROUP, Job, Project, ProjectMember, ProjectRole
from stargate_portal.permissions import is_staff

MANAGING_ROLES = (ProjectRole.PI, ProjectRole.MANAGER)


def projects_visible_to(user: User) -> QuerySet[Project]:
    """Projects the user may read: those they are a member of (staff: all projects)."""
    projects = Project.objects.select_related("organisation")
    if is_staff(user):
        return projects.order_by("name", "pk")
    return projects.filter(members__user=user).order_by("name", "pk")


def project_managers(project: Project) -> QuerySet[User]:
    """The PI and managers of a project: who is told about its budget and state."""
    return User.objects.filter(
        project_memberships__project=project, project_memberships__role__in=MANAGING_ROLES
    ).order_by("email")


def is_project_member(user: User, project: Project) -> bool:
    return ProjectMember.objects.filter(project=project, user_id=user.pk).exists()


def can_manage_project(user: User, project: Project) -> bool:
    """Invite and remove members, change roles, cancel anyone's job: PI, managers, staff."""
    return (
        is_staff(user)
        or ProjectMember.objects.filter(
            project=project, user_id=user.pk, role__in=MANAGING_ROLES
        ).exists()
    )


def can_submit_job(user: User, project: Project) -> bool:
    """Members submit their project's jobs (staff too only when they are members)."""
    return is_project_member(user, project)


def can_cancel_job(user: User, job: Job) -> bool:
    """The submitter, the project's PI and managers, and staff."""
    return job.submitted_by_id == user.pk or can_manage_project(user, job.project)


def is_reviewer(user: User) -> bool:
    return user.groups.filter(name=REVIEWERS_GROUP).exists()


def can_book_capacity(user: User, project: Project) -> bool:
    """Book nodes for a project (it spends the project's hours in one block): its PI and
    managers."""
    return ProjectMember.objects.filter(
        project=project, user_id=user.pk, role__in=MANAGING_ROLES
    ).exists()


def can_book_capacity_expression(user: User, project_field: str = "project_id") -> Exists:
    """``can_book_capacity`` as an expression for a query whose rows name the project in
    ``project_field`` (the same rule, read along with those rows: one round trip less)."""
    return Exists(
        ProjectMember.objects.filter(
            project_id=OuterRef(project_field), user_id=user.pk, role__in=MANAGING_ROLES
        )
    )


def can_cancel_booking(user: User, project: Project) -> bool:
    """Cancel a project's booking: its PI and managers, and staff (who must give a reason)."""
    return is_staff(user) or can_book_capacity(user, project)
