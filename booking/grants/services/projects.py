"""Project membership and staff operations on projects and their allocations."""

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from booking.ledger.services import Movement, ledger_adjust, ledger_grant
from booking.models import (
    Allocation,
    GpuType,
    Project,
    ProjectAuditAction,
    ProjectAuditEntry,
    ProjectInvitation,
    ProjectMember,
    ProjectRole,
    ProjectState,
)
from booking.notifications.services import notify, notify_email
from booking.permissions import can_manage_project, project_managers
from stargate_portal.errors import Conflict, PermissionDenied, ValidationFailed
from stargate_portal.permissions import require_staff


def project_invite(*, project: Project, actor: User, email: str, role: str) -> ProjectInvitation:
    """Invite an e-mail; someone without an account is asked to sign up first."""
    if not can_manage_project(actor, project):
        raise PermissionDenied(_("Only the PI and managers invite members."))
    email = email.strip().lower()
    if ProjectMember.objects.filter(project=project, user__email__iexact=email).exists():
        raise Conflict(_("%(e)s is already a member.") % {"e": email}, code="already_member")
    invitation, created = ProjectInvitation.objects.get_or_create(
        project=project,
        email=email,
        accepted_at=None,
        defaults={"role": role, "invited_by": actor},
    )
    if created:
        has_account = User.objects.filter(email__iexact=email).exists()
        hint = "" if has_account else _("Sign up with this e-mail address first. ")
        notify_email(
            email=email,
            subject=_("You are invited to the project %(p)s") % {"p": project.name},
            body=hint + _("Accept the invitation in the portal:"),
            url=reverse("grants:invitation_detail", args=[invitation.pk]),
        )
    return invitation


def invitation_accept(*, invitation: ProjectInvitation, user: User) -> ProjectMember:
    """Accept an invitation addressed to the user's e-mail."""
    with transaction.atomic():
        locked = ProjectInvitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.email.lower() != user.email.lower():
            raise PermissionDenied(_("This invitation is for another e-mail address."))
        if locked.accepted_at is not None:
            raise Conflict(_("This invitation was already accepted."), code="already_accepted")
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["accepted_at"])
        member, _created = ProjectMember.objects.get_or_create(
            project_id=locked.project_id, user=user, defaults={"role": locked.role}
        )
    return member


def project_member_set_role(*, member: ProjectMember, actor: User, role: str) -> ProjectMember:
    if not can_manage_project(actor, member.project):
        raise PermissionDenied(_("Only the PI and managers change roles."))
    with transaction.atomic():
        locked = ProjectMember.objects.select_for_update().get(pk=member.pk)
        if locked.role == ProjectRole.PI and role != ProjectRole.PI:
            _keep_a_pi(locked)
        locked.role = role
        locked.save(update_fields=["role"])
    return locked


def project_member_remove(*, member: ProjectMember, actor: User) -> None:
    if actor.pk != member.user_id and not can_manage_project(actor, member.project):
        raise PermissionDenied(_("Only the PI and managers remove members."))
    with transaction.atomic():
        locked = ProjectMember.objects.select_for_update().get(pk=member.pk)
        if locked.role == ProjectRole.PI:
            _keep_a_pi(locked)
        locked.delete()


def _keep_a_pi(member: ProjectMember) -> None:
    others = ProjectMember.objects.filter(project_id=member.project_id, role=ProjectRole.PI)
    if not others.exclude(pk=member.pk).exists():
        raise Conflict(_("A project must keep a PI."), code="last_pi")


def project_top_up(
    *, project: Project, staff: User, gpu_type: GpuType, gpu_hours: Decimal, reason: str, key: str
) -> Movement:
    """Staff add GPU-hours to an existing allocation (jobs held for budget queue again: the
    ledger announces every grant)."""
    require_staff(staff)
    return ledger_grant(
        project=project,
        gpu_type=gpu_type,
        gpu_hours=gpu_hours,
        key=key,
        actor=staff,
        reason=reason,
    )


def project_adjust(
    *, project: Project, staff: User, gpu_type: GpuType, gpu_hours: Decimal, reason: str, key: str
) -> Movement:
    """Staff correct granted hours up or down, with a reason."""
    require_staff(staff)
    return ledger_adjust(
        project=project,
        gpu_type=gpu_type,
        gpu_hours=gpu_hours,
        key=key,
        actor=staff,
        reason=reason,
    )


def allocation_extend(
    *, allocation: Allocation, staff: User, ends_on: date, reason: str
) -> Allocation:
    """Staff move an allocation's end later; who, why and both dates go in the audit trail."""
    require_staff(staff)
    if not reason.strip():
        raise ValidationFailed.on_field("reason", _("Give a reason."))
    with transaction.atomic():
        locked = Allocation.objects.select_for_update().get(pk=allocation.pk)
        if ends_on <= locked.ends_on:
            raise ValidationFailed.on_field("ends_on", _("An extension must end later."))
        before = {"ends_on": locked.ends_on.isoformat()}
        locked.ends_on = ends_on
        locked.save(update_fields=["ends_on"])
        ProjectAuditEntry.objects.create(
            project_id=locked.project_id,
            allocation=locked,
            action=ProjectAuditAction.ALLOCATION_EXTENDED,
            actor=staff,
            reason=reason.strip(),
            before=before,
            after={"ends_on": ends_on.isoformat()},
        )
    return locked


def project_set_state(*, project: Project, staff: User, state: str, reason: str) -> Project:
    """Suspend or unsuspend: a suspended project cannot hold or be charged GPU-hours.

    The change, who made it and why go in the project's audit trail.
    """
    require_staff(staff)
    if state not in ProjectState.values:
        raise ValidationFailed.on_field("state", _("Not a project state."))
    if not reason.strip():
        raise ValidationFailed.on_field("reason", _("Give a reason."))
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        if locked.state == state:
            raise Conflict(_("The project is already %(s)s.") % {"s": state}, code="no_change")
        before = {"state": locked.state}
        locked.state = state
        locked.save(update_fields=["state"])
        suspended = state == ProjectState.SUSPENDED
        ProjectAuditEntry.objects.create(
            project=locked,
            action=ProjectAuditAction.PROJECT_SUSPENDED
            if suspended
            else ProjectAuditAction.PROJECT_REACTIVATED,
            actor=staff,
            reason=reason.strip(),
            before=before,
            after={"state": state},
        )
        verb = _("suspended") if suspended else _("reactivated")
        notify(
            users=project_managers(locked),
            subject=_("Project %(p)s %(verb)s") % {"p": locked.name, "verb": verb},
            body=reason.strip(),
            url=reverse("grants:project_detail", args=[locked.pk]),
        )
    return locked
