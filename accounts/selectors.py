"""Every read a tenant can make, scoped to what the user may see (foreign objects are 404)."""

from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import (
    ApiToken,
    JoinRequest,
    JoinRequestState,
    Membership,
    Organisation,
    OrganisationDomain,
    User,
    VerificationDecision,
    VerificationState,
)
from accounts.tiers import PriorityTier, best_tier


def organisations_of(user: User) -> QuerySet[Organisation]:
    """Organisations the user is a member of, with their domains."""
    return (
        Organisation.objects.filter(memberships__user=user)
        .prefetch_related("domains")
        .order_by("name", "pk")
    )


def organisation_of(user: User, pk: int) -> Organisation:
    return get_object_or_404(organisations_of(user), pk=pk)


def _organisation_of_member(user: User, pk: int) -> Organisation:
    """Like organisation_of, without loading its domains (for nested lists)."""
    return get_object_or_404(Organisation.objects.filter(memberships__user=user), pk=pk)


def membership_in(user: User, organisation: Organisation) -> Membership | None:
    return Membership.objects.filter(user=user, organisation=organisation).first()


def own_membership(user: User, organisation_pk: int) -> Membership:
    """The user's own membership of an organisation (404 when not a member)."""
    memberships = Membership.objects.select_related("organisation")
    return get_object_or_404(memberships, user=user, organisation_id=organisation_pk)


def memberships_of(user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user)
        .select_related("organisation")
        .prefetch_related("organisation__domains")
        .order_by("organisation__name")
    )


def members_of(user: User, organisation_pk: int) -> QuerySet[Membership]:
    """Members of an organisation the user belongs to."""
    organisation = _organisation_of_member(user, organisation_pk)
    return (
        Membership.objects.filter(organisation=organisation)
        .select_related("user")
        .order_by("user__email")
    )


def membership_of(user: User, organisation_pk: int, pk: int) -> Membership:
    return get_object_or_404(members_of(user, organisation_pk), pk=pk)


def organisation_directory(search: str = "") -> QuerySet[Organisation]:
    """Verified organisations anyone may ask to join (name, kind and country only)."""
    qs = Organisation.objects.filter(verification_state=VerificationState.VERIFIED)
    if search:
        qs = qs.filter(name__icontains=search)
    return qs.only("id", "name", "kind", "country").order_by("name", "pk")


def directory_organisation(pk: int) -> Organisation:
    return get_object_or_404(organisation_directory(), pk=pk)


def join_requests_for(user: User, organisation_pk: int) -> QuerySet[JoinRequest]:
    """Join requests to an organisation the user belongs to."""
    organisation = _organisation_of_member(user, organisation_pk)
    return JoinRequest.objects.filter(organisation=organisation).select_related(
        "user", "organisation"
    )


def join_request_for_decision(user: User, pk: int) -> JoinRequest:
    """A join request to one of the user's organisations (its admins decide it)."""
    qs = JoinRequest.objects.filter(organisation__memberships__user=user).select_related(
        "organisation", "user"
    )
    return get_object_or_404(qs, pk=pk)


def join_requests_by(user: User) -> QuerySet[JoinRequest]:
    return JoinRequest.objects.filter(user=user).select_related("organisation", "user")


def pending_join_requests_to_manage(user: User) -> QuerySet[JoinRequest]:
    return JoinRequest.objects.filter(
        state=JoinRequestState.PENDING,
        organisation__memberships__user=user,
        organisation__memberships__role__in=("owner", "admin"),
    ).select_related("organisation", "user")


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created")


def user_tier(user: User) -> PriorityTier:
    """A person's tier: the best among their organisations (projects join this later)."""
    return user_tier_from(Organisation.objects.filter(memberships__user=user))


def user_tier_from(organisations: Iterable[Organisation]) -> PriorityTier:
    return best_tier([o.priority_tier() for o in organisations])


def organisations_for_staff() -> QuerySet[Organisation]:
    return Organisation.objects.prefetch_related(
        "domains", Prefetch("memberships", queryset=Membership.objects.select_related("user"))
    ).order_by("created_at", "pk")


def verification_queue() -> QuerySet[Organisation]:
    """Staff only: organisations waiting for a decision, oldest first, with what they need."""
    return (
        Organisation.objects.filter(verification_state=VerificationState.PENDING)
        .prefetch_related(
            "domains",
            Prefetch("memberships", queryset=Membership.objects.select_related("user")),
        )
        .order_by("created_at", "pk")
    )


def organisation_for_staff(pk: int) -> Organisation:
    """Staff only: any organisation, with what its review page shows."""
    return get_object_or_404(organisations_for_staff(), pk=pk)


def verification_decisions(
    organisation: Organisation | None = None,
) -> QuerySet[VerificationDecision]:
    """Staff only: the audit trail of verification decisions, newest first."""
    qs = VerificationDecision.objects.select_related("organisation", "decided_by")
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    return qs.order_by("-created_at", "-pk")


def organisations_for_staff_filtered(
    *, state: str = "", search: str = ""
) -> QuerySet[Organisation]:
    """Staff only: all organisations by name, optionally in one verification state."""
    qs = organisations_for_staff().order_by("name", "pk")
    if state:
        qs = qs.filter(verification_state=state)
    if search:
        qs = qs.filter(name__icontains=search)
    return qs


def email_domains_of(organisation: Organisation) -> list[str]:
    """The e-mail domains of an organisation the caller has already been allowed to see."""
    return list(
        OrganisationDomain.objects.filter(organisation=organisation)
        .order_by("domain")
        .values_list("domain", flat=True)
    )
