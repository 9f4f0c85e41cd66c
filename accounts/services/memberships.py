"""Joining organisations: by request approved by its admins, or by a verified e-mail domain."""

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import (
    JoinRequest,
    JoinRequestState,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationDomain,
    User,
    VerificationState,
)
from stargate_portal.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


def join_request_create(
    *, user: User, organisation: Organisation, message: str = ""
) -> JoinRequest:
    """Ask to join; refused when already a member or a request is already pending."""
    if Membership.objects.filter(user=user, organisation=organisation).exists():
        raise Conflict(_("You are already a member of this organisation."), code="already_member")
    try:
        with transaction.atomic():
            return JoinRequest.objects.create(user=user, organisation=organisation, message=message)
    except IntegrityError as exc:
        raise Conflict(
            _("You already have a pending request to join this organisation."),
            code="join_request_pending",
        ) from exc


def join_request_decide(*, join_request: JoinRequest, actor: User, approve: bool) -> JoinRequest:
    """Approve (the requester becomes a member) or deny; only the organisation's admins may."""
    if not can_manage(actor, join_request.organisation):
        raise PermissionDenied(_("Only the organisation's owners and admins decide on requests."))
    with transaction.atomic():
        locked = JoinRequest.objects.select_for_update().get(pk=join_request.pk)
        if locked.state != JoinRequestState.PENDING:
            raise Conflict(_("This request has already been decided."), code="already_decided")
        locked.state = JoinRequestState.APPROVED if approve else JoinRequestState.DENIED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.save()
        if approve:
            Membership.objects.get_or_create(
                user=locked.user,
                organisation=locked.organisation,
                defaults={"role": MembershipRole.MEMBER},
            )
    return locked


def can_manage(user: User, organisation: Organisation) -> bool:
    return _role_of(user, organisation.pk) in (MembershipRole.OWNER, MembershipRole.ADMIN)


def _role_of(user: User, organisation_pk: int) -> str | None:
    return (
        Membership.objects.filter(user=user, organisation_id=organisation_pk)
        .values_list("role", flat=True)
        .first()
    )


def membership_set_role(*, membership: Membership, actor: User, role: str) -> Membership:
    """Change a member's role; only owners make or unmake owners; an owner always remains."""
    if role not in MembershipRole.values:
        raise ValidationFailed.on_field("role", _("Choose owner, admin or member."))
    with transaction.atomic():
        locked = _lock(membership)
        actor_role = _role_of(actor, locked.organisation_id)
        if actor_role not in (MembershipRole.OWNER, MembershipRole.ADMIN):
            raise PermissionDenied(_("Only owners and admins change roles."))
        owner_change = MembershipRole.OWNER in (locked.role, role) and locked.role != role
        if owner_change and actor_role != MembershipRole.OWNER:
            raise PermissionDenied(_("Only owners make or unmake owners."))
        if locked.role == MembershipRole.OWNER and role != MembershipRole.OWNER:
            _keep_an_owner(locked)
        locked.role = role
        locked.save(update_fields=["role"])
    return locked


def membership_remove(*, membership: Membership, actor: User) -> None:
    """Remove a member (or leave, when actor is the member); the last owner cannot go."""
    with transaction.atomic():
        locked = _lock(membership)
        if actor.pk != locked.user_id:
            actor_role = _role_of(actor, locked.organisation_id)
            if actor_role not in (MembershipRole.OWNER, MembershipRole.ADMIN):
                raise PermissionDenied(_("Only owners and admins remove members."))
            if locked.role == MembershipRole.OWNER and actor_role != MembershipRole.OWNER:
                raise PermissionDenied(_("Only owners remove an owner."))
        if locked.role == MembershipRole.OWNER:
            _keep_an_owner(locked)
        locked.delete()


def _lock(membership: Membership) -> Membership:
    """Lock the organisation, then the membership: role changes of one organisation queue up.

    Locking the organisation first (one order everywhere) keeps two owners who step down at
    once from both seeing the other as the remaining owner.
    """
    Organisation.objects.select_for_update().filter(pk=membership.organisation_id).exists()
    locked = Membership.objects.select_for_update().filter(pk=membership.pk).order_by("pk").first()
    if locked is None:
        raise NotFound(_("This person is no longer a member."))
    return locked


def _keep_an_owner(membership: Membership) -> None:
    others = Membership.objects.filter(
        organisation_id=membership.organisation_id, role=MembershipRole.OWNER
    ).exclude(pk=membership.pk)
    if not others.exists():
        raise Conflict(_("An organisation must keep at least one owner."), code="last_owner")


def memberships_join_by_email(*, user: User) -> list[Membership]:
    """Join every verified organisation whose e-mail domain matches a confirmed e-mail.

    Every confirmed address of the user counts, not only the login e-mail, as on verification.
    """
    from allauth.account.models import EmailAddress

    confirmed = EmailAddress.objects.filter(user=user, verified=True).values_list(
        "email", flat=True
    )
    domains = {email.rsplit("@", 1)[-1].lower() for email in confirmed}
    organisation_ids = OrganisationDomain.objects.filter(
        domain__in=domains, organisation__verification_state=VerificationState.VERIFIED
    ).values_list("organisation_id", flat=True)
    with transaction.atomic():
        return [
            Membership.objects.get_or_create(
                user=user, organisation_id=org_id, defaults={"role": MembershipRole.MEMBER}
            )[0]
            for org_id in sorted(set(organisation_ids))
        ]


def memberships_join_by_domain(*, organisation: Organisation) -> int:
    """On verification: add every user with a confirmed e-mail on one of its domains."""
    from allauth.account.models import EmailAddress

    domains = list(
        OrganisationDomain.objects.filter(organisation=organisation).values_list(
            "domain", flat=True
        )
    )
    if not domains:
        return 0
    on_domain = Q()
    for domain in domains:
        on_domain |= Q(email__iendswith="@" + domain)
    member_ids = Membership.objects.filter(organisation=organisation).values_list(
        "user_id", flat=True
    )
    confirmed_user_ids = set(
        EmailAddress.objects.filter(on_domain, verified=True)
        .exclude(user_id__in=member_ids)
        .values_list("user_id", flat=True)
    )
    Membership.objects.bulk_create(
        [
            Membership(user_id=uid, organisation=organisation, role=MembershipRole.MEMBER)
            for uid in confirmed_user_ids
        ],
        ignore_conflicts=True,  # a user who joined meanwhile keeps their membership as it is
    )
    return len(confirmed_user_ids)
