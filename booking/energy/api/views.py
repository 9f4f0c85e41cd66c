"""Energy reports of a project or an organisation, as JSON or CSV, for a period of months."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Organisation
from booking.energy.api.serializers import EnergyReportSerializer, PublicFeedSerializer
from booking.energy.exports import report_csv
from booking.energy.periods import parse_month, report_period
from booking.energy.public import public_months
from booking.energy.selectors import (
    EnergyReport,
    energy_organisation_of,
    energy_project_of,
    organisation_energy_report,
    project_energy_report,
)
from booking.energy.statement import statement_pdf
from stargate_portal.api.throttling import AnonRateThrottle
from stargate_portal.api.views import user_of

PERIOD = [
    OpenApiParameter("from", OpenApiTypes.STR, description="first month, YYYY-MM"),
    OpenApiParameter("to", OpenApiTypes.STR, description="last month, YYYY-MM (default: this)"),
]


def statement_response(organisation: Organisation, month: date) -> HttpResponse:
    response = HttpResponse(statement_pdf(organisation, month), content_type="application/pdf")
    filename = f"energy-statement-{organisation.pk}-{month:%Y-%m}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv(report: EnergyReport, name: str) -> HttpResponse:
    response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
    filename = f"{name}-energy-{report.first_month:%Y-%m}-{report.last_month:%Y-%m}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class _ReportView(APIView):
    kind = ""

    def report(self, request: Request, pk: int) -> tuple[EnergyReport, str]:
        first, last = report_period(request.query_params)
        return self.build(request, pk, first, last)

    def build(self, request: Request, pk: int, first: date, last: date) -> tuple[EnergyReport, str]:
        raise NotImplementedError


class _ProjectReport(_ReportView):
    def build(self, request: Request, pk: int, first: date, last: date) -> tuple[EnergyReport, str]:
        project = energy_project_of(user_of(request), pk)
        return project_energy_report(project, first=first, last=last), f"project-{project.pk}"


class _OrganisationReport(_ReportView):
    def build(self, request: Request, pk: int, first: date, last: date) -> tuple[EnergyReport, str]:
        organisation = energy_organisation_of(user_of(request), pk)
        report = organisation_energy_report(organisation, first=first, last=last)
        return report, f"organisation-{organisation.pk}"


class ProjectEnergyView(_ProjectReport):
    """A project's energy, emissions and heat reused per month and GPU type; ``idle`` is the
    energy of its booked nodes left idle."""

    @extend_schema(parameters=PERIOD, responses={200: EnergyReportSerializer})
    def get(self, request: Request, pk: int) -> Response:
        report, _name = self.report(request, pk)
        return Response(EnergyReportSerializer(report).data)


class ProjectEnergyCsvView(_ProjectReport):
    """The same as CSV: month, GPU type, kind, records and the figures."""

    @extend_schema(
        parameters=PERIOD,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)},
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        return _csv(*self.report(request, pk))


class OrganisationEnergyView(_OrganisationReport):
    """An organisation's energy (all its projects) per month and GPU type."""

    @extend_schema(parameters=PERIOD, responses={200: EnergyReportSerializer})
    def get(self, request: Request, pk: int) -> Response:
        report, _name = self.report(request, pk)
        return Response(EnergyReportSerializer(report).data)


class OrganisationEnergyCsvView(_OrganisationReport):
    """The same as CSV."""

    @extend_schema(
        parameters=PERIOD,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)},
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        return _csv(*self.report(request, pk))


class TransparencyFeedView(APIView):
    """The public transparency page as JSON: the site's figures of the latest twelve months
    that have any, newest first. No login; nothing in it names a tenant, project or person."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AnonRateThrottle,)

    @extend_schema(responses={200: PublicFeedSerializer})
    def get(self, request: Request) -> Response:
        months = [month.as_dict() for month in public_months()]
        response = Response({"months": months})
        response["Cache-Control"] = f"public, max-age={settings.ENERGY_PUBLIC_CACHE_SECONDS}"
        return response


class OrganisationStatementView(APIView):
    """The organisation's monthly energy statement as PDF (method and factors included);
    503 ``pdf_unavailable`` where the server lacks WeasyPrint's system libraries."""

    @extend_schema(
        parameters=[
            OpenApiParameter("month", OpenApiTypes.STR, required=True, description="YYYY-MM")
        ],
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        organisation = energy_organisation_of(user_of(request), pk)
        month = parse_month(str(request.query_params.get("month", "")), "month")
        return statement_response(organisation, month)
