"""Calls, applications, reviews: thin views over selectors and services."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Organisation, User
from accounts.selectors import organisation_of
from booking.grants.api import serializers as s
from booking.grants.selectors import calls as call_selectors
from booking.grants.selectors.reviews import (
    assignment_of,
    assignments_of,
    ranked_applications,
    ranked_requests,
)
from booking.grants.services import applications as app_services
from booking.grants.services import calls as call_services
from booking.grants.services.decisions import application_award, application_reject
from booking.grants.services.reviews import (
    ScoreInput,
    review_declare_conflict,
    review_score,
    reviewer_assign,
)
from booking.models import Application, Call, CallKind, CallStatus, ReviewAssignment
from stargate_portal.api.parsers import BoundedMultiPartParser
from stargate_portal.api.views import UserScopedMixin, user_of
from stargate_portal.errors import ValidationFailed


def valid(serializer_class: type, data: Any, *, partial: bool = False) -> dict[str, Any]:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class CallFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=CallKind.choices)
    state = filters.ChoiceFilter(choices=CallStatus.choices, method="state_is")

    class Meta:
        model = Call
        fields = ("kind", "state")

    def state_is(self, queryset: QuerySet[Call], name: str, value: str) -> QuerySet[Call]:
        return queryset.filter(pk__in=Call.objects.with_status(value).values("pk"))


class CallViewSet(
    UserScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Calls for GPU time. ``?open=true`` (or ``?state=open``) lists only calls accepting
    applications now."""

    model = Call
    serializer_class = s.CallSerializer
    filterset_class = CallFilter

    def scoped_queryset(self, user: User) -> QuerySet[Call]:
        qs = call_selectors.calls_visible_to(user)
        if self.request.query_params.get("open") in ("1", "true"):
            qs = qs.filter(pk__in=call_selectors.open_calls().values("pk"))
        return qs


class StaffCallViewSet(UserScopedMixin, viewsets.GenericViewSet):
    """Staff: create, edit, open and close calls; the ranked list of a call."""

    permission_classes = (IsAdminUser,)
    model = Call
    serializer_class = s.CallSerializer

    def scoped_queryset(self, user: User) -> QuerySet[Call]:
        return call_selectors.calls_visible_to(user)

    @extend_schema(request=s.CallInputSerializer, responses={201: s.CallSerializer})
    def create(self, request: Request) -> Response:
        data = valid(s.CallInputSerializer, request.data)
        data["criteria"] = [(str(n), int(w)) for n, w in data.get("criteria") or []] or None
        call = call_services.call_create(staff=user_of(request), **data)
        return Response(self._out(call.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.CallInputSerializer, responses=s.CallSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        data = valid(s.CallInputSerializer, request.data, partial=True)
        data.pop("kind", None)
        data.pop("criteria", None)
        call_services.call_update(call=self.get_object(), staff=user_of(request), **data)
        return Response(self._out(int(pk)))

    @extend_schema(request=None, responses=s.CallSerializer)
    @action(detail=True, methods=["post"])
    def open(self, request: Request, pk: str) -> Response:
        call_services.call_open(call=self.get_object(), staff=user_of(request))
        return Response(self._out(int(pk)))

    @extend_schema(request=None, responses=s.CallSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        call_services.call_close(call=self.get_object(), staff=user_of(request))
        return Response(self._out(int(pk)))

    @extend_schema(responses=s.RankedSerializer(many=True))
    @action(detail=True, methods=["get"])
    def ranking(self, request: Request, pk: str) -> Response:
        call = self.get_object()
        ranked = ranked_applications(call=call)
        requested = ranked_requests(call=call)
        rows = [
            {
                "position": i,
                "application": r.application.pk,
                "title": r.application.title,
                "organisation": r.application.organisation.name,
                "tier": r.tier,
                "weighted_score": r.weighted_score,
                "reviews": r.reviews,
                "requested_gpu_hours": {
                    name: str(hours) for name, hours in requested.get(r.application.pk, {}).items()
                },
            }
            for i, r in enumerate(ranked, start=1)
        ]
        return Response(s.RankedSerializer(rows, many=True).data)

    def _out(self, pk: int) -> dict[str, Any]:
        return s.CallSerializer(self.get_queryset().get(pk=pk)).data


class ApplicationViewSet(
    UserScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """My applications: create and edit drafts, attach a PDF, submit, withdraw."""

    model = Application
    serializer_class = s.ApplicationSerializer
    filterset_fields = ("state", "call")

    def scoped_queryset(self, user: User) -> QuerySet[Application]:
        return call_selectors.applications_of(user)

    @extend_schema(request=s.ApplicationInputSerializer, responses={201: s.ApplicationSerializer})
    def create(self, request: Request) -> Response:
        data = valid(s.ApplicationInputSerializer, request.data)
        organisation = _own_organisation(request, data.pop("organisation"))
        call = call_selectors.call_of(user_of(request), data.pop("call").pk)
        application = app_services.application_create(
            user=user_of(request), call=call, organisation=organisation, **data
        )
        return Response(self._out(application.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ApplicationUpdateSerializer, responses=s.ApplicationSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        data = valid(s.ApplicationUpdateSerializer, request.data, partial=True)
        app_services.application_update(
            application=self.get_object(), user=user_of(request), **data
        )
        return Response(self._out(int(pk)))

    @extend_schema(request=None, responses=s.ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        app_services.application_submit(application=self.get_object(), user=user_of(request))
        return Response(self._out(int(pk)))

    @extend_schema(request=None, responses=s.ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        app_services.application_withdraw(application=self.get_object(), user=user_of(request))
        return Response(self._out(int(pk)))

    @extend_schema(request=s.AttachmentSerializer, responses=s.ApplicationSerializer)
    @action(detail=True, methods=["put"], parser_classes=[BoundedMultiPartParser])
    def attachment(self, request: Request, pk: str) -> Response:
        data = valid(s.AttachmentSerializer, request.data)
        app_services.application_attach(
            application=self.get_object(), user=user_of(request), upload=data["attachment"]
        )
        return Response(self._out(int(pk)))

    def _out(self, pk: int) -> dict[str, Any]:
        return s.ApplicationSerializer(self.get_queryset().get(pk=pk)).data


def _own_organisation(request: Request, organisation_pk: int) -> Organisation:
    """The user's organisation; a foreign or unknown one is a field error, not a missing page."""
    try:
        return organisation_of(user_of(request), organisation_pk)
    except Http404 as exc:
        raise ValidationFailed.on_field(
            "organisation", _("Apply for one of your organisations.")
        ) from exc


class StaffApplicationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Staff: every application; assign reviewers; award or reject."""

    permission_classes = (IsAdminUser,)
    serializer_class = s.StaffApplicationSerializer
    filterset_fields = ("state", "call")

    def get_queryset(self) -> QuerySet[Application]:
        return call_selectors.applications_for_staff()

    @extend_schema(request=s.AssignInputSerializer, responses={201: s.StaffApplicationSerializer})
    @action(detail=True, methods=["post"])
    def assignments(self, request: Request, pk: str) -> Response:
        data = valid(s.AssignInputSerializer, request.data)
        reviewer = get_user_model().objects.filter(email__iexact=data["reviewer"]).first()
        if reviewer is None:
            raise ValidationFailed.on_field("reviewer", _("No user with this e-mail."))
        reviewer_assign(application=self.get_object(), reviewer=reviewer, staff=user_of(request))
        return Response(self._out(int(pk)), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.AwardInputSerializer, responses=s.StaffApplicationSerializer)
    @action(detail=True, methods=["post"])
    def award(self, request: Request, pk: str) -> Response:
        data = valid(s.AwardInputSerializer, request.data)
        application_award(application=self.get_object(), staff=user_of(request), **data)
        return Response(self._out(int(pk)))

    @extend_schema(request=s.ReasonInputSerializer, responses=s.StaffApplicationSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        data = valid(s.ReasonInputSerializer, request.data)
        application_reject(application=self.get_object(), staff=user_of(request), **data)
        return Response(self._out(int(pk)))

    def _out(self, pk: int) -> dict[str, Any]:
        return s.StaffApplicationSerializer(self.get_queryset().get(pk=pk)).data


class ReviewViewSet(
    UserScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """My review assignments: read the application, score it, or declare a conflict."""

    model = ReviewAssignment
    serializer_class = s.AssignmentSerializer

    def scoped_queryset(self, user: User) -> QuerySet[ReviewAssignment]:
        return assignments_of(user).prefetch_related(
            "scores", "application__requests__gpu_type", "application__call__criteria"
        )

    @extend_schema(request=s.ScoresInputSerializer, responses=s.AssignmentSerializer)
    @action(detail=True, methods=["post"])
    def scores(self, request: Request, pk: str) -> Response:
        data = valid(s.ScoresInputSerializer, request.data)
        scores = [
            ScoreInput(x["criterion"], x["score"], x.get("comment", ""), x["for_applicant"])
            for x in data["scores"]
        ]
        review_score(
            assignment=assignment_of(user_of(request), int(pk)),
            reviewer=user_of(request),
            scores=scores,
        )
        return Response(s.AssignmentSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=s.ReasonInputSerializer, responses={204: None})
    @action(detail=True, methods=["post"])
    def conflict(self, request: Request, pk: str) -> Response:
        data = valid(s.ReasonInputSerializer, request.data)
        review_declare_conflict(
            assignment=get_object_or_404(self.get_queryset(), pk=pk),
            reviewer=user_of(request),
            reason=data["reason"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
