from accounts.models.memberships import JoinRequest, JoinRequestState, Membership, MembershipRole
from accounts.models.organisations import (
    Organisation,
    OrganisationDomain,
    OrganisationKind,
    VerificationDecision,
    VerificationState,
)
from accounts.models.outbox import OutboxEmail
from accounts.models.tokens import ApiToken
from accounts.models.users import User

__all__ = [
    "ApiToken",
    "JoinRequest",
    "JoinRequestState",
    "Membership",
    "MembershipRole",
    "Organisation",
    "OrganisationDomain",
    "OrganisationKind",
    "OutboxEmail",
    "User",
    "VerificationDecision",
    "VerificationState",
]
