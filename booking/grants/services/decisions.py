"""Staff decisions on applications. An award never exceeds the call's remaining pool: the
pool rows are locked in a fixed order, so concurrent awards for the last hours serialise."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from booking.grants.services.projects import project_invite
from booking.ledger.services import ledger_grant
from booking.models import (
    Allocation,
    Application,
    ApplicationDecision,
    ApplicationState,
    CallPool,
    Project,
    ProjectMember,
    ProjectRole,
)
from booking.notifications.services import notify
from stargate_portal.errors import Conflict, ValidationFailed
from stargate_portal.permissions import require_staff

DECIDABLE = (ApplicationState.SUBMITTED, ApplicationState.UNDER_REVIEW)


@dataclass(frozen=True)
class Award:
    application: Application
    project: Project


def application_award(
    *,
    application: Application,
    staff: User,
    gpu_hours: dict[str, Decimal],
    reason: str,
    starts_on: date | None = None,
    ends_on: date | None = None,
) -> Award:
    """Award GPU-hours per GPU type name: creates the project, allocations and ledger grants."""
    amounts = {name: Decimal(h) for name, h in gpu_hours.items() if Decimal(h) != 0}
    if not amounts or any(h < 0 for h in amounts.values()):
        raise ValidationFailed.on_field("gpu_hours", _("Award a positive number of GPU-hours."))
    with transaction.atomic():
        locked = _lock_decidable(application, staff, reason)
        starts_on = starts_on or locked.planned_start or timezone.localdate()
        ends_on = ends_on or locked.planned_end or starts_on + timedelta(days=365)
        if ends_on < starts_on:
            raise ValidationFailed.on_field("ends_on", _("The end must not be before the start."))
        pools = _take_from_pools(locked, amounts)
        project = _create_project(locked, staff, pools, amounts, starts_on, ends_on)
        awarded = {n: str(h) for n, h in amounts.items()}
        _record(locked, staff, ApplicationState.AWARDED, reason, awarded)
    return Award(application=locked, project=project)


def application_reject(*, application: Application, staff: User, reason: str) -> Application:
    """Reject with a reason shown to the applicant."""
    with transaction.atomic():
        locked = _lock_decidable(application, staff, reason)
        _record(locked, staff, ApplicationState.REJECTED, reason, {})
    return locked


def _lock_decidable(application: Application, staff: User, reason: str) -> Application:
    require_staff(staff, _("Only staff decide on applications."))
    if not reason.strip():
        raise ValidationFailed.on_field("reason", _("Give a reason for the decision."))
    locked = Application.objects.select_for_update().select_related("call").get(pk=application.pk)
    if locked.state not in DECIDABLE:
        raise Conflict(
            _("This application is %(s)s.") % {"s": locked.get_state_display()},
            code="already_decided",
        )
    return locked


def _take_from_pools(application: Application, amounts: dict[str, Decimal]) -> dict[str, CallPool]:
    pools = {
        p.gpu_type.name: p
        for p in CallPool.objects.select_for_update(of=("self",))
        .filter(call_id=application.call_id, gpu_type__name__in=list(amounts))
        .select_related("gpu_type")
        .order_by("gpu_type_id")
    }
    if missing := sorted(set(amounts) - set(pools)):
        raise Conflict(
            _("This call does not offer: %(n)s.") % {"n": ", ".join(missing)},
            code="gpu_type_not_offered",
        )
    short = {
        n: str(pools[n].remaining_gpu_hours)
        for n, h in amounts.items()
        if h > pools[n].remaining_gpu_hours
    }
    if short:
        raise Conflict(
            _("The award exceeds what remains in the call's pool."),
            code="pool_exhausted",
            details={"remaining_gpu_hours": short},
        )
    for name, hours in amounts.items():
        pools[name].awarded_gpu_hours += hours
        pools[name].save(update_fields=["awarded_gpu_hours"])
    return pools


def _create_project(
    application: Application,
    staff: User,
    pools: dict[str, CallPool],
    amounts: dict[str, Decimal],
    starts_on: date,
    ends_on: date,
) -> Project:
    project = Project.objects.create(
        name=application.title, organisation_id=application.organisation_id, application=application
    )
    ProjectMember.objects.create(
        project=project, user_id=application.applicant_id, role=ProjectRole.PI
    )
    for name, hours in amounts.items():
        gpu_type = pools[name].gpu_type
        Allocation.objects.create(
            project=project, gpu_type=gpu_type, starts_on=starts_on, ends_on=ends_on
        )
        ledger_grant(
            project=project,
            gpu_type=gpu_type,
            gpu_hours=hours,
            actor=staff,
            key=f"award-{application.pk}-{gpu_type.pk}",
            reason=_("Award"),
        )
    for member in application.team.all():
        project_invite(project=project, actor=staff, email=member.email, role=ProjectRole.MEMBER)
    return project


def _record(
    application: Application, staff: User, state: str, reason: str, awarded: dict[str, str]
) -> None:
    application.state = state
    application.decided_at = timezone.now()
    application.decision_reason = reason.strip()
    application.save(update_fields=["state", "decided_at", "decision_reason", "updated_at"])
    ApplicationDecision.objects.create(
        application=application,
        decision=state,
        decided_by=staff,
        reason=reason.strip(),
        awarded_gpu_hours=awarded,
    )
    notify(
        users=[application.applicant],
        subject=_("Decision on your application: %(t)s") % {"t": application.title},
        body=reason.strip(),
        url=reverse("grants:application_detail", args=[application.pk]),
    )
