"""Accounts API: thin views over selectors (reads) and services (writes)."""

from typing import Any, cast

from django.db.models import F, QuerySet
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors
from accounts.api import serializers as s
from accounts.models import (
    ApiToken,
    JoinRequest,
    JoinRequestState,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationKind,
    User,
    VerificationState,
)
from accounts.services.memberships import (
    join_request_create,
    join_request_decide,
    membership_remove,
    membership_set_role,
)
from accounts.services.organisations import organisation_create, organisation_update
from accounts.services.tokens import api_token_create, api_token_revoke
from accounts.services.verification import organisation_reject, organisation_verify
from stargate_portal.errors import PermissionDenied

NUMERIC_ID = r"[0-9]+"
UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


def _user(request: Request) -> User:
    """The signed-in user (every view here requires authentication)."""
    return cast(User, request.user)


def _generating_schema(view: APIView) -> bool:
    """drf-spectacular calls get_queryset without a user to learn the model."""
    return getattr(view, "swagger_fake_view", False)


class MeView(APIView):
    @extend_schema(responses=s.MeSerializer)
    def get(self, request: Request) -> Response:
        memberships = list(selectors.memberships_of(_user(request)))
        organisations = [
            {
                "id": m.organisation.pk,
                "name": m.organisation.name,
                "role": m.role,
                "verification_state": m.organisation.verification_state,
                "priority_tier": s.tier_data(m.organisation.priority_tier()),
            }
            for m in memberships
        ]
        tier = selectors.user_tier_from(m.organisation for m in memberships)
        user = _user(request)
        data = {
            "id": user.pk,
            "email": user.email,
            "full_name": user.full_name,
            "is_staff": user.is_staff,
            "priority_tier": s.tier_data(tier),
            "organisations": organisations,
        }
        return Response(s.MeSerializer(data).data)


class OrganisationFilter(filters.FilterSet):
    verification_state = filters.ChoiceFilter(choices=VerificationState.choices)
    kind = filters.ChoiceFilter(choices=OrganisationKind.choices)
    country = filters.CharFilter(lookup_expr="iexact")
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Organisation
        fields = ("verification_state", "kind", "country", "name")


class OrganisationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """My organisations: create, list, read, edit (owners/admins)."""

    serializer_class = s.OrganisationSerializer
    filterset_class = OrganisationFilter
    ordering_fields = ("name", "created_at")
    lookup_value_regex = NUMERIC_ID

    def get_queryset(self) -> QuerySet[Organisation]:
        if _generating_schema(self):
            return Organisation.objects.none()
        return selectors.organisations_of(_user(self.request)).annotate(
            my_role=F("memberships__role")
        )

    @extend_schema(request=s.OrganisationInputSerializer, responses={201: s.OrganisationSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(s.OrganisationInputSerializer, request.data)
        organisation = organisation_create(user=_user(request), **data)
        return Response(self._out(organisation.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.OrganisationInputSerializer, responses=s.OrganisationSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        organisation = self.get_object()
        if getattr(organisation, "my_role", None) not in (
            MembershipRole.OWNER,
            MembershipRole.ADMIN,
        ):
            raise PermissionDenied(_("Only owners and admins edit the organisation."))
        data = _valid(s.OrganisationInputSerializer, request.data, partial=True)
        organisation_update(organisation=organisation, actor=_user(request), **data)
        return Response(self._out(organisation.pk))

    def _out(self, pk: int) -> dict[str, Any]:
        return s.OrganisationSerializer(self.get_queryset().get(pk=pk)).data


class MemberFilter(filters.FilterSet):
    role = filters.ChoiceFilter(choices=MembershipRole.choices)
    email = filters.CharFilter(field_name="user__email", lookup_expr="icontains")

    class Meta:
        model = Membership
        fields = ("role", "email")


class MemberListView(generics.ListAPIView):
    """Members of one of my organisations."""

    serializer_class = s.MemberSerializer
    filterset_class = MemberFilter
    ordering_fields = ("created_at",)

    def get_queryset(self) -> QuerySet[Membership]:
        if _generating_schema(self):
            return Membership.objects.none()
        return selectors.members_of(_user(self.request), self.kwargs["organisation_pk"])


class MembershipView(generics.GenericAPIView):
    """Change a member's role, or remove a member (or yourself)."""

    serializer_class = s.MemberSerializer

    def get_queryset(self) -> QuerySet[Membership]:
        if _generating_schema(self):
            return Membership.objects.none()
        return selectors.members_of(_user(self.request), self.kwargs["organisation_pk"])

    @extend_schema(request=s.RoleInputSerializer, responses=s.MemberSerializer)
    def patch(self, request: Request, organisation_pk: int, pk: int) -> Response:
        membership = selectors.membership_of(_user(request), organisation_pk, pk)
        data = _valid(s.RoleInputSerializer, request.data)
        updated = membership_set_role(
            membership=membership, actor=_user(request), role=data["role"]
        )
        return Response(s.MemberSerializer(updated).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, organisation_pk: int, pk: int) -> Response:
        membership = selectors.membership_of(_user(request), organisation_pk, pk)
        membership_remove(membership=membership, actor=_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DirectoryFilter(filters.FilterSet):
    search = filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    kind = filters.ChoiceFilter(choices=OrganisationKind.choices)
    country = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Organisation
        fields = ("search", "kind", "country")


class DirectoryView(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Verified organisations you may ask to join (name, kind, country)."""

    serializer_class = s.DirectoryEntrySerializer
    filterset_class = DirectoryFilter
    ordering_fields = ("name",)

    def get_queryset(self) -> QuerySet[Organisation]:
        return selectors.organisation_directory()


class JoinRequestFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=JoinRequestState.choices)

    class Meta:
        model = JoinRequest
        fields = ("state",)


class JoinRequestViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """My join requests; create one; approve or deny one to an organisation I administer."""

    serializer_class = s.JoinRequestSerializer
    filterset_class = JoinRequestFilter
    ordering_fields = ("created_at",)
    lookup_value_regex = NUMERIC_ID

    def get_queryset(self) -> QuerySet[JoinRequest]:
        if _generating_schema(self):
            return JoinRequest.objects.none()
        return selectors.join_requests_by(_user(self.request))

    @extend_schema(request=s.JoinRequestInputSerializer, responses={201: s.JoinRequestSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(s.JoinRequestInputSerializer, request.data)
        organisation = selectors.directory_organisation(data["organisation"])
        join_request = join_request_create(
            user=_user(request), organisation=organisation, message=data.get("message", "")
        )
        return Response(s.JoinRequestSerializer(join_request).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.JoinRequestSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        return self._decide(request, int(pk), approve=True)

    @extend_schema(request=None, responses=s.JoinRequestSerializer)
    @action(detail=True, methods=["post"])
    def deny(self, request: Request, pk: str) -> Response:
        return self._decide(request, int(pk), approve=False)

    def _decide(self, request: Request, pk: int, *, approve: bool) -> Response:
        join_request = selectors.join_request_for_decision(_user(request), pk)
        decided = join_request_decide(
            join_request=join_request, actor=_user(request), approve=approve
        )
        return Response(s.JoinRequestSerializer(decided).data)


class OrganisationJoinRequestListView(generics.ListAPIView):
    """Join requests to one of my organisations (its owners and admins only)."""

    serializer_class = s.JoinRequestSerializer
    filterset_class = JoinRequestFilter
    ordering_fields = ("created_at",)

    def get_queryset(self) -> QuerySet[JoinRequest]:
        if _generating_schema(self):
            return JoinRequest.objects.none()
        user = _user(self.request)
        membership = selectors.own_membership(user, self.kwargs["organisation_pk"])
        if not membership.can_manage:
            raise PermissionDenied(_("Only owners and admins see join requests."))
        return selectors.join_requests_for(user, membership.organisation_id)


class ApiTokenFilter(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = ApiToken
        fields = ("name",)


class ApiTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """My API tokens. The token itself is returned once, at creation."""

    serializer_class = s.ApiTokenSerializer
    filterset_class = ApiTokenFilter
    ordering_fields = ("created", "expiry")
    lookup_field = "public_id"
    lookup_value_regex = UUID

    def get_queryset(self) -> QuerySet[ApiToken]:
        if _generating_schema(self):
            return ApiToken.objects.none()
        return selectors.api_tokens_of(_user(self.request))

    @extend_schema(request=s.ApiTokenInputSerializer, responses={201: s.ApiTokenCreatedSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(s.ApiTokenInputSerializer, request.data)
        token, clear_text = api_token_create(user=_user(request), **data)
        body = s.ApiTokenCreatedSerializer(token, context={"token": clear_text}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, public_id: str) -> Response:
        api_token_revoke(user=_user(request), public_id=public_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StaffOrganisationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Staff only: all organisations with verification evidence; decide on verification."""

    permission_classes = (IsAdminUser,)
    serializer_class = s.StaffOrganisationSerializer
    filterset_class = OrganisationFilter
    ordering_fields = ("name", "created_at")
    lookup_value_regex = NUMERIC_ID

    def get_queryset(self) -> QuerySet[Organisation]:
        return selectors.organisations_for_staff()

    @extend_schema(request=s.VerificationInputSerializer, responses=s.StaffOrganisationSerializer)
    @action(detail=True, methods=["post"])
    def verification(self, request: Request, pk: str) -> Response:
        organisation = self.get_object()
        data = _valid(s.VerificationInputSerializer, request.data)
        decide = organisation_verify if data["decision"] == "verified" else organisation_reject
        decide(organisation=organisation, staff=_user(request), reason=data["reason"])
        return Response(self.get_serializer(self.get_queryset().get(pk=organisation.pk)).data)


def _valid(serializer_class: type, data: Any, *, partial: bool = False) -> dict[str, Any]:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
