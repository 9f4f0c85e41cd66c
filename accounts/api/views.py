"""Accounts API: thin views over selectors (reads) and services (writes)."""

from typing import Any

from django.db.models import F, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors
from accounts.api import serializers as s
from accounts.models import JoinRequest, Organisation, VerificationState
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


class MeView(APIView):
    @extend_schema(responses=s.MeSerializer)
    def get(self, request: Request) -> Response:
        memberships = list(selectors.memberships_of(request.user))
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
        user = request.user
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
    country = filters.CharFilter(lookup_expr="iexact")
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Organisation
        fields = ("verification_state", "kind", "country", "name")


class OrganisationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """My organisations: create, list, read, edit (owners/admins), members, join requests."""

    serializer_class = s.OrganisationSerializer
    filterset_class = OrganisationFilter
    ordering_fields = ("name", "created_at")

    def get_queryset(self) -> QuerySet[Organisation]:
        return selectors.organisations_of(self.request.user).annotate(
            my_role=F("memberships__role")
        )

    @extend_schema(request=s.OrganisationInputSerializer, responses={201: s.OrganisationSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(s.OrganisationInputSerializer, request.data)
        organisation = organisation_create(user=request.user, **data)
        return Response(self._out(organisation.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.OrganisationInputSerializer, responses=s.OrganisationSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        organisation = self.get_object()
        if organisation.my_role not in ("owner", "admin"):  # type: ignore[attr-defined]
            raise PermissionDenied("Only owners and admins edit the organisation.")
        data = _valid(s.OrganisationInputSerializer, request.data, partial=True)
        organisation_update(organisation=organisation, actor=request.user, **data)
        return Response(self._out(organisation.pk))

    def _out(self, pk: int) -> dict[str, Any]:
        return s.OrganisationSerializer(self.get_queryset().get(pk=pk)).data

    @extend_schema(responses=s.MemberSerializer(many=True))
    @action(detail=True, methods=["get"])
    def members(self, request: Request, pk: str) -> Response:
        return self._paginated(selectors.members_of(request.user, int(pk)), s.MemberSerializer)

    @extend_schema(responses=s.JoinRequestSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="join-requests")
    def join_requests(self, request: Request, pk: str) -> Response:
        organisation = self.get_object()
        if organisation.my_role not in ("owner", "admin"):  # type: ignore[attr-defined]
            raise PermissionDenied("Only owners and admins see join requests.")
        qs = selectors.join_requests_for(request.user, organisation.pk)
        state = request.query_params.get("state")
        if state:
            qs = qs.filter(state=state)
        return self._paginated(qs, s.JoinRequestSerializer)

    def _paginated(self, queryset: QuerySet[Any], serializer: type) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer(page, many=True).data)


class MembershipView(APIView):
    """Change a member's role, or remove a member (or yourself)."""

    @extend_schema(request=s.RoleInputSerializer, responses=s.MemberSerializer)
    def patch(self, request: Request, organisation_pk: int, pk: int) -> Response:
        membership = selectors.membership_of(request.user, organisation_pk, pk)
        data = _valid(s.RoleInputSerializer, request.data)
        updated = membership_set_role(membership=membership, actor=request.user, role=data["role"])
        return Response(s.MemberSerializer(updated).data)

    def delete(self, request: Request, organisation_pk: int, pk: int) -> Response:
        membership = selectors.membership_of(request.user, organisation_pk, pk)
        membership_remove(membership=membership, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DirectoryView(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Verified organisations you may ask to join (name, kind, country)."""

    serializer_class = s.DirectoryEntrySerializer

    def get_queryset(self) -> QuerySet[Organisation]:
        return selectors.organisation_directory(self.request.query_params.get("search", ""))


class JoinRequestViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """My join requests; create one; approve or deny one to an organisation I administer."""

    serializer_class = s.JoinRequestSerializer
    filterset_fields = ("state",)

    def get_queryset(self) -> QuerySet[JoinRequest]:
        return selectors.join_requests_by(self.request.user)

    @extend_schema(request=s.JoinRequestInputSerializer, responses={201: s.JoinRequestSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(s.JoinRequestInputSerializer, request.data)
        organisation = selectors.directory_organisation(data["organisation"])
        join_request = join_request_create(
            user=request.user, organisation=organisation, message=data.get("message", "")
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
        join_request = selectors.join_request_for_decision(request.user, pk)
        decided = join_request_decide(join_request=join_request, actor=request.user, approve=approve)
        return Response(s.JoinRequestSerializer(decided).data)


class ApiTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """My API tokens. The token itself is returned once, at creation."""

    serializer_class = s.ApiTokenSerializer
    lookup_field = "public_id"

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.api_tokens_of(self.request.user)

    @extend_schema(request=s.ApiTokenInputSerializer, responses={201: s.ApiTokenCreatedSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(s.ApiTokenInputSerializer, request.data)
        token, clear_text = api_token_create(user=request.user, **data)
        token.token = clear_text  # type: ignore[attr-defined]
        body = s.ApiTokenCreatedSerializer(token).data
        return Response(body, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, public_id: str) -> Response:
        api_token_revoke(user=request.user, public_id=public_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StaffOrganisationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Staff only: all organisations with verification evidence; decide on verification."""

    permission_classes = (IsAdminUser,)
    serializer_class = s.StaffOrganisationSerializer
    filterset_class = OrganisationFilter

    def get_queryset(self) -> QuerySet[Organisation]:
        return selectors.organisations_for_staff()

    @extend_schema(request=s.VerificationInputSerializer, responses=s.StaffOrganisationSerializer)
    @action(detail=True, methods=["post"])
    def verification(self, request: Request, pk: str) -> Response:
        organisation = self.get_object()
        data = _valid(s.VerificationInputSerializer, request.data)
        decide = organisation_verify if data["decision"] == "verified" else organisation_reject
        decide(organisation=organisation, staff=request.user, reason=data["reason"])
        return Response(self.get_serializer(self.get_queryset().get(pk=organisation.pk)).data)


def _valid(serializer_class: type, data: Any, *, partial: bool = False) -> dict[str, Any]:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
