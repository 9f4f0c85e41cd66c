"""Projects: members, invitations, allocations, balances, the ledger (+ CSV), staff operations."""

import csv
from collections.abc import Iterator
from itertools import chain
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from booking.grants.api import serializers as s
from booking.grants.api.views import valid
from booking.grants.selectors.projects import (
    allocations_of,
    audit_trail_of,
    project_of,
    projects_of,
)
from booking.grants.services import projects as project_services
from booking.ledger.selectors import balances_of
from booking.models import (
    GpuType,
    LedgerEntry,
    LedgerEntryKind,
    Notification,
    Project,
    ProjectInvitation,
    ProjectState,
)
from stargate_portal.api.filters import NamedRowFilter, UtcIsoDateTimeFilter
from stargate_portal.api.pagination import BoundedCountPagination
from stargate_portal.api.views import UserScopedMixin, user_of
from stargate_portal.errors import Conflict, ValidationFailed


class LedgerFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=LedgerEntryKind.choices)
    gpu_type = NamedRowFilter(field_name="gpu_type")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = LedgerEntry
        fields = ("kind", "gpu_type", "created_after", "created_before")


LEDGER_PARAMETERS = [
    OpenApiParameter("kind", enum=LedgerEntryKind.values),
    OpenApiParameter("gpu_type", str),
    OpenApiParameter("created_after", OpenApiTypes.DATETIME),
    OpenApiParameter("created_before", OpenApiTypes.DATETIME),
]


class ProjectViewSet(
    UserScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """My projects (staff: all)."""

    model = Project
    serializer_class = s.ProjectSerializer
    filterset_fields = ("state",)

    def scoped_queryset(self, user: User) -> QuerySet[Project]:
        return projects_of(user)

    @extend_schema(responses=s.ProjectMemberSerializer(many=True))
    @action(detail=True, methods=["get"])
    def members(self, request: Request, pk: str) -> Response:
        project = self.get_object()
        qs = project.members.select_related("user").order_by("user__email")
        return self._page(qs, s.ProjectMemberSerializer)

    @extend_schema(request=s.InviteInputSerializer, responses={201: s.InvitationSerializer})
    @members.mapping.post
    def invite(self, request: Request, pk: str) -> Response:
        data = valid(s.InviteInputSerializer, request.data)
        invitation = project_services.project_invite(
            project=self.get_object(), actor=user_of(request), **data
        )
        return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.AllocationSerializer(many=True))
    @action(detail=True, methods=["get"])
    def allocations(self, request: Request, pk: str) -> Response:
        return self._page(allocations_of(self.get_object()), s.AllocationSerializer)

    @extend_schema(responses=s.BalanceSerializer(many=True))
    @action(detail=True, methods=["get"])
    def balances(self, request: Request, pk: str) -> Response:
        rows = [
            {
                "gpu_type": name,
                "granted_gpu_hours": b.granted,
                "held_gpu_hours": b.held,
                "charged_gpu_hours": b.charged,
                "available_gpu_hours": b.available,
            }
            for name, b in sorted(balances_of(project=self.get_object()).items())
        ]
        return Response(s.BalanceSerializer(rows, many=True).data)

    @extend_schema(responses=s.LedgerEntrySerializer(many=True), parameters=LEDGER_PARAMETERS)
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        pagination_class=BoundedCountPagination,
    )
    def ledger(self, request: Request, pk: str) -> Response:
        """Oldest first; ``count`` is exact up to 1,000 entries and null beyond (three
        entries per finished job, for ever), and the pages go on to the end."""
        return self._page(self._ledger(), s.LedgerEntrySerializer)

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(description="CSV")},
        parameters=LEDGER_PARAMETERS,
    )
    @action(detail=True, methods=["get"], url_path="ledger/export", filter_backends=[])
    def ledger_export(self, request: Request, pk: str) -> StreamingHttpResponse:
        """The whole (filtered) ledger, streamed: rows are written as they are read, a few
        thousand at a time, so a long history costs neither the memory nor the time to first
        byte of holding it all."""
        rows = _ledger_rows(self._ledger())
        response = StreamingHttpResponse(
            _csv_lines(chain([LEDGER_CSV_HEADER], rows)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="project-{pk}-ledger.csv"'
        return response

    def _ledger(self) -> QuerySet[LedgerEntry]:
        qs = self.get_object().ledger_entries.select_related("gpu_type", "actor")
        entries = LedgerFilter(self.request.query_params, queryset=qs.order_by("created_at", "pk"))
        if not entries.is_valid():
            raise ValidationFailed(_("Invalid ledger filter; see details."), details=entries.errors)
        return entries.qs

    def _page(self, queryset: QuerySet[Any], serializer: type) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer(page, many=True).data)


LEDGER_CSV_HEADER = [name for name in s.LedgerEntrySerializer.Meta.fields if name != "id"]
"""The API's names of an entry's fields, in its order (``_ledger_rows`` writes them)."""
LEDGER_EXPORT_CHUNK = 2_000
"""Entries read per round trip while a ledger export streams (a server-side cursor)."""


def _ledger_rows(entries: QuerySet[LedgerEntry]) -> Iterator[list[Any]]:
    for e in entries.iterator(chunk_size=LEDGER_EXPORT_CHUNK):
        yield [
            e.created_at.isoformat(),
            e.kind,
            e.gpu_type.name,
            e.gpu_hours,
            e.idempotency_key,
            e.actor.email if e.actor else "",
            e.reason,
        ]


class _Line:
    """A file for ``csv.writer`` that hands back each line instead of keeping it."""

    def write(self, line: str) -> str:
        return line


def _csv_lines(rows: Iterator[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    return (writer.writerow(row) for row in rows)


class ProjectMemberViewSet(viewsets.GenericViewSet):
    """Change a member's role or remove a member (PI and managers)."""

    serializer_class = s.ProjectMemberSerializer

    def _member(self, project_pk: str, pk: str) -> Any:
        project = project_of(user_of(self.request), int(project_pk))
        return get_object_or_404(project.members.select_related("user", "project"), pk=pk)

    @extend_schema(request=s.ProjectMemberSerializer, responses=s.ProjectMemberSerializer)
    def partial_update(self, request: Request, project_pk: str, pk: str) -> Response:
        role = valid(s.RoleInputSerializer, request.data)["role"]
        member = project_services.project_member_set_role(
            member=self._member(project_pk, pk), actor=user_of(request), role=role
        )
        return Response(s.ProjectMemberSerializer(member).data)

    def destroy(self, request: Request, project_pk: str, pk: str) -> Response:
        project_services.project_member_remove(
            member=self._member(project_pk, pk), actor=user_of(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(UserScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Invitations addressed to my e-mail; accept one to join the project."""

    model = ProjectInvitation
    serializer_class = s.InvitationSerializer

    def scoped_queryset(self, user: User) -> QuerySet[ProjectInvitation]:
        return ProjectInvitation.objects.filter(
            email__iexact=user.email, accepted_at__isnull=True
        ).select_related("project")

    @extend_schema(request=None, responses=s.ProjectMemberSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        member = project_services.invitation_accept(
            invitation=self.get_object(), user=user_of(request)
        )
        return Response(s.ProjectMemberSerializer(member).data)


class StaffProjectViewSet(viewsets.GenericViewSet):
    """Staff: top up, adjust, extend, suspend and unsuspend projects; read their audit trail."""

    permission_classes = (IsAdminUser,)
    serializer_class = s.ProjectSerializer

    def get_queryset(self) -> QuerySet[Project]:
        return Project.objects.select_related("organisation")

    @extend_schema(request=s.MovementInputSerializer, responses={201: s.LedgerEntrySerializer})
    @action(detail=True, methods=["post"], url_path="top-up")
    def top_up(self, request: Request, pk: str) -> Response:
        return self._move(request, project_services.project_top_up)

    @extend_schema(request=s.MovementInputSerializer, responses={201: s.LedgerEntrySerializer})
    @action(detail=True, methods=["post"])
    def adjust(self, request: Request, pk: str) -> Response:
        return self._move(request, project_services.project_adjust)

    def _move(self, request: Request, service: Any) -> Response:
        data = valid(s.MovementInputSerializer, request.data)
        gpu_type = GpuType.objects.filter(name__iexact=data["gpu_type"]).first()
        if gpu_type is None:
            raise ValidationFailed.on_field("gpu_type", _("Unknown GPU type."))
        movement = service(
            project=self.get_object(),
            staff=user_of(request),
            gpu_type=gpu_type,
            gpu_hours=data["gpu_hours"],
            reason=data["reason"],
            key=data["idempotency_key"],
        )
        if not movement.created:
            raise Conflict(
                _("This idempotency key was already used; nothing changed."),
                code="ledger_key_replayed",
                details={"entry_id": movement.entry.pk},
            )
        return Response(
            s.LedgerEntrySerializer(movement.entry).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=s.ReasonInputSerializer, responses=s.ProjectSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk: str) -> Response:
        return self._state(request, ProjectState.SUSPENDED)

    @extend_schema(request=s.ReasonInputSerializer, responses=s.ProjectSerializer)
    @action(detail=True, methods=["post"])
    def unsuspend(self, request: Request, pk: str) -> Response:
        return self._state(request, ProjectState.ACTIVE)

    def _state(self, request: Request, state: str) -> Response:
        data = valid(s.ReasonInputSerializer, request.data)
        project = project_services.project_set_state(
            project=self.get_object(), staff=user_of(request), state=state, reason=data["reason"]
        )
        return Response(s.ProjectSerializer(project).data)

    @extend_schema(request=s.ExtendInputSerializer, responses=s.AllocationSerializer)
    @action(detail=True, methods=["post"], url_path=r"allocations/(?P<allocation_pk>\d+)/extend")
    def extend(self, request: Request, pk: str, allocation_pk: str) -> Response:
        data = valid(s.ExtendInputSerializer, request.data)
        allocation = get_object_or_404(self.get_object().allocations.all(), pk=allocation_pk)
        extended = project_services.allocation_extend(
            allocation=allocation,
            staff=user_of(request),
            ends_on=data["ends_on"],
            reason=data["reason"],
        )
        return Response(s.AllocationSerializer(extended).data)

    @extend_schema(responses=s.ProjectAuditEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def audit(self, request: Request, pk: str) -> Response:
        """The project's audit trail: extensions, suspensions, reactivations; newest first."""
        page = self.paginate_queryset(audit_trail_of(self.get_object()))
        return self.get_paginated_response(s.ProjectAuditEntrySerializer(page, many=True).data)


class NotificationViewSet(UserScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """My notifications, newest first; mark one read."""

    model = Notification
    serializer_class = s.NotificationSerializer

    def scoped_queryset(self, user: User) -> QuerySet[Notification]:
        return Notification.objects.filter(user=user).order_by("-created_at", "-pk")

    @extend_schema(request=None, responses=s.NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str) -> Response:
        notification = self.get_object()
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at"])
        return Response(s.NotificationSerializer(notification).data)
