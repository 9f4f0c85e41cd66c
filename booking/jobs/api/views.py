"""Jobs: submit (Idempotency-Key), list, detail with history, cancel; staff actions; queue."""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from booking.cluster.clock import cluster_today
from booking.cluster.registry import cluster_backend
from booking.grants.selectors.projects import project_of
from booking.jobs import services as job_services
from booking.jobs.api import serializers as s
from booking.jobs.queue import queue_overview, queue_standing
from booking.jobs.selectors import cancel_waits_for_cluster, jobs_of, listed_jobs_of
from booking.jobs.waits import job_wait_explanation
from booking.models import Job, JobEvent, JobState
from stargate_portal.api.filters import NamedRowFilter, state_filter
from stargate_portal.api.idempotency import idempotency_key, idempotency_key_parameter
from stargate_portal.api.pagination import BoundedCountPagination
from stargate_portal.api.views import UserScopedMixin, user_of
from stargate_portal.input_limits import column_max_length

IDEMPOTENCY_KEY = idempotency_key_parameter(
    "Retrying with the same key returns the first response and creates nothing."
)


class JobFilter(filters.FilterSet):
    project = filters.NumberFilter(field_name="project_id")
    state = state_filter(JobState.choices)
    gpu_type = NamedRowFilter(field_name="gpu_type")

    class Meta:
        model = Job
        fields = ("project", "state", "gpu_type")


def _history() -> Prefetch:
    return Prefetch("events", queryset=JobEvent.objects.select_related("actor"))


def with_history(jobs: QuerySet[Job]) -> QuerySet[Job]:
    """What a job's detail shows besides the job: project, GPU type, submitter, history."""
    return jobs.select_related("project", "gpu_type", "submitted_by").prefetch_related(_history())


def detail(job: Job, *, loaded: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """A job with its history, position and estimated start (fresh from the database unless
    ``loaded`` by ``with_history`` just now; the position and start from the last admission
    cycle's record, never by walking the queue). ``now``: the cluster's time when the caller
    has just read it."""
    fresh = job if loaded else with_history(Job.objects.all()).get(pk=job.pk)
    now = now or cluster_backend().now()
    standing = queue_standing(fresh, now=now)
    context = {
        "standing": standing,
        "wait_explanation": job_wait_explanation(
            fresh, today=cluster_today(now), tier=standing.tier
        ),
        "cluster_cancel_pending": cancel_waits_for_cluster(fresh),
    }
    return dict(s.JobDetailSerializer(fresh, context=context).data)


class JobViewSet(
    UserScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Jobs of my projects, newest first. Filter by ``project``, ``state`` (repeatable),
    ``gpu_type``; ``ordering=submitted_at`` for oldest first (the only other order an index
    serves: ordering by GPUs or state sorted every job of the projects on each page).
    ``count`` is exact up to 1,000 jobs and null beyond (a busy project has many more)."""

    model = Job
    pagination_class = BoundedCountPagination
    serializer_class = s.JobSerializer
    filterset_class = JobFilter
    ordering_fields = ("submitted_at",)
    ordering = ("-submitted_at", "-pk")

    def scoped_queryset(self, user: User) -> QuerySet[Job]:
        if self.action == "retrieve":
            return with_history(jobs_of(user))
        return listed_jobs_of(user)

    @extend_schema(responses=s.JobDetailSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(detail(self.get_object(), loaded=True))

    @extend_schema(
        request=s.JobSubmitSerializer,
        responses={201: s.JobDetailSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    def create(self, request: Request) -> Response:
        serializer = s.JobSubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        key = idempotency_key(request, max_length=column_max_length(Job, "idempotency_key"))
        project = project_of(request.user, data["project"])  # type: ignore[arg-type]
        with transaction.atomic():
            submission = job_services.job_submit(
                user=user_of(request),
                project=project,
                gpu_type_name=data["gpu_type"],
                gpus=data["gpus"],
                walltime_minutes=data["walltime_minutes"],
                name=data["name"],
                script=data["script"],
                container_image=data["container_image"],
                command=data["command"],
                environment=data["environment"],
                idempotency_key=key,
                strict_order=data["strict_order"],
                booking_id=data["booking"],
            )
            job = submission.job
            if not submission.created and job.submit_response is not None:
                return Response(
                    job.submit_response,
                    status=status.HTTP_201_CREATED,
                    headers={"Idempotent-Replayed": "true"},
                )
            if submission.created:
                # The job in hand is what was just written, with its project, GPU type and
                # submitter; its history is the one event written with it; its submit time
                # is the cluster's time read for it.
                prefetch_related_objects([job], _history())
                body = detail(job, loaded=True, now=job.submitted_at)
            else:
                body = detail(job)
            if submission.created and key:
                Job.objects.filter(pk=job.pk).update(submit_response=body)
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.JobDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        job = job_services.job_cancel(job=self.get_object(), user=request.user)  # type: ignore[arg-type]
        return Response(detail(job))


class StaffJobViewSet(viewsets.GenericViewSet):
    """Staff: hold a pending job, release a held one, requeue one as a new attempt."""

    permission_classes = (IsAdminUser,)
    serializer_class = s.JobDetailSerializer

    def get_queryset(self) -> QuerySet[Job]:
        return Job.objects.select_related("project", "gpu_type", "submitted_by")

    @extend_schema(request=s.JobReasonInputSerializer, responses=s.JobDetailSerializer)
    @action(detail=True, methods=["post"])
    def hold(self, request: Request, pk: str) -> Response:
        reason = _reason(request)
        job = job_services.job_hold(job=self.get_object(), staff=request.user, reason=reason)  # type: ignore[arg-type]
        return Response(detail(job))

    @extend_schema(request=None, responses=s.JobDetailSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str) -> Response:
        job = job_services.job_release(job=self.get_object(), staff=request.user)  # type: ignore[arg-type]
        return Response(detail(job))

    @extend_schema(request=s.JobReasonInputSerializer, responses=s.JobDetailSerializer)
    @action(detail=True, methods=["post"])
    def requeue(self, request: Request, pk: str) -> Response:
        reason = _reason(request)
        job = job_services.job_requeue(job=self.get_object(), staff=request.user, reason=reason)  # type: ignore[arg-type]
        return Response(detail(job))


def _reason(request: Request) -> str:
    serializer = s.JobReasonInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return str(serializer.validated_data["reason"])


class QueueOverviewView(APIView):
    """Per GPU type: capacity, and jobs and GPUs by state and tier (no tenant details)."""

    @extend_schema(responses=s.GpuTypeQueueSerializer(many=True))
    def get(self, request: Request) -> Response:
        today = cluster_backend().now().date()
        rows = [
            {
                "gpu_type": queue.gpu_type,
                "total_gpus": queue.total_gpus,
                "usable_gpus": queue.usable_gpus,
                "used_gpus": queue.used_gpus,
                "free_gpus": queue.free_gpus,
                "jobs": queue.jobs,
                "gpus": queue.gpus,
            }
            for queue in queue_overview(today=today)
        ]
        return Response(s.GpuTypeQueueSerializer(rows, many=True).data)
