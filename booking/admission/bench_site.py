"""The synthetic full-size site of the admission benchmarks, written to the database.

Same shape as ``booking.scheduler.benchmark`` (whose tables it reuses), but as rows: GPU
types and simulated partitions, organisations of the four tiers, projects with allocations,
ledger grants and decayed usage, running jobs with their holds, pending jobs. Everything is
bulk-inserted; ``advance`` moves the world between timed cycles the way reconcile and users
would (with job events, so the cycle's snapshot follows them as in production).
"""

from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Organisation, User
from booking.cluster.simulator.backend import SimulatorBackend
from booking.models import (
    Allocation,
    FairShareUsage,
    GpuType,
    Job,
    JobEvent,
    LedgerEntry,
    Project,
    SimulatedPartition,
)
from booking.scheduler import NodePool
from booking.scheduler.benchmark import (
    DAY_SECONDS,
    NODES_BY_TYPE,
    PENDING_JOBS,
    PENDING_SHARE_BY_TYPE,
    PENDING_SIZES,
    PROJECTS,
    RUNNING_JOBS,
    RUNNING_SIZES,
    TIERS,
    WALLTIME_HOURS,
)
from booking.scheduler.hours import hold_gpu_hours, quantise_hours

BATCH = 5_000
SCRIPT = "#!/bin/sh\nsrun python train.py\n"
# Two organisations per tier: (kind, country, founded, verified).
ORGANISATIONS: dict[int, list[tuple[str, str, Any, bool]]] = {
    1: [("university", "NO", date(1811, 9, 2), True), ("research_institute", "DE", None, True)],
    2: [("startup", "FR", "young", True), ("startup", "SE", "young", True)],
    3: [("company", "NL", date(1990, 1, 1), True), ("public_body", "IT", None, True)],
    4: [("company", "US", date(2001, 5, 1), True), ("university", "JP", None, False)],
}


def _weighted(rng: random.Random, table: Mapping[int, float]) -> int:
    return rng.choices(list(table), weights=list(table.values()))[0]


@dataclass
class BenchSite:
    rng: random.Random
    user_id: int
    type_ids: dict[str, int]
    project_ids: list[int]
    project_weights: list[float]
    nodes: dict[str, int]
    made: int = 0

    @property
    def now(self) -> datetime:
        return SimulatorBackend().now()

    def describe(self) -> str:
        nodes = sum(self.nodes.values())
        pending = Job.objects.filter(state="pending").count()
        running = Job.objects.filter(state="running").count()
        busy = sum(Job.objects.filter(state="running").values_list("gpus", flat=True))
        return (
            f"site (PostgreSQL): {nodes:,} nodes, {nodes * 8:,} GPUs ({busy / (nodes * 8):.1%} "
            f"busy), {len(self.project_ids):,} projects, {pending:,} pending jobs, "
            f"{running:,} running jobs"
        )

    def pick_project(self) -> int:
        return self.rng.choices(self.project_ids, cum_weights=self.project_weights)[0]

    # -- moving the world between cycles -----------------------------------------------------

    def advance(self, admitted: list[int]) -> None:
        """Move the clock; admitted jobs start, due jobs end, as many new jobs arrive."""
        SimulatorBackend().advance(timedelta(seconds=300))
        now = self.now
        with transaction.atomic():
            self._start(admitted, now)
            self._end(Job.objects.filter(state="running", expected_end__lte=now), now)
            self._submit(len(admitted), now, spread_seconds=300)

    def end_running(self, *, node_fraction: float) -> int:
        """End every job on a random ``node_fraction`` of each type's nodes (drained nodes)."""
        now = self.now
        chosen = {
            type_id: set(
                self.rng.sample(range(self.nodes[name]), round(self.nodes[name] * node_fraction))
            )
            for name, type_id in self.type_ids.items()
        }
        running = Job.objects.filter(state="running").values_list("pk", "gpu_type_id", "placement")
        ending = [
            pk
            for pk, type_id, placement in running
            if any(node in chosen[type_id] for node, _gpus in placement or ())
        ]
        with transaction.atomic():
            self._end(Job.objects.filter(pk__in=ending), now)
        return len(ending)

    def _start(self, admitted: list[int], now: datetime) -> None:
        starting = Job.objects.filter(pk__in=admitted, state="admitted")
        ids = list(starting.values_list("pk", flat=True))
        starting.update(state="running", started_at=F("admitted_at"))
        job_events_create(ids, "admitted", "running", "Started on the cluster.", now)

    def _end(self, jobs: Any, now: datetime) -> None:
        rows = list(
            jobs.values_list("pk", "uuid", "project_id", "gpu_type_id", "gpus", "walltime_minutes")
        )
        ids = [row[0] for row in rows]
        for start in range(0, len(ids), BATCH):
            Job.objects.filter(pk__in=ids[start : start + BATCH]).update(
                state="completed",
                ended_at=now,
                exit_code=0,
                runtime_seconds=F("walltime_minutes") * 60,
            )
        job_events_create(ids, "running", "completed", "Completed.", now)
        entries = []
        for _pk, job_uuid, project_id, type_id, gpus, walltime in rows:
            hold = hold_gpu_hours(gpus, walltime)
            for kind, amount in (("release", -hold), ("charge", hold)):
                entries.append(
                    LedgerEntry(
                        project_id=project_id,
                        gpu_type_id=type_id,
                        kind=kind,
                        gpu_hours=amount,
                        idempotency_key=f"job-{job_uuid}-{kind}",
                    )
                )
        LedgerEntry.objects.bulk_create(entries, batch_size=BATCH)

    def _submit(self, count: int, now: datetime, *, spread_seconds: float) -> None:
        jobs = [
            self._pending(now - timedelta(seconds=self.rng.uniform(0, spread_seconds)))
            for _ in range(count)
        ]
        created = Job.objects.bulk_create(jobs, batch_size=BATCH)
        job_events_create([job.pk for job in created], "", "pending", "Submitted.", now)

    def _pending(self, submitted_at: datetime) -> Job:
        rng = self.rng
        types = list(PENDING_SHARE_BY_TYPE)
        gpu_type = rng.choices(types, weights=[PENDING_SHARE_BY_TYPE[t] for t in types])[0]
        self.made += 1
        return Job(
            project_id=self.pick_project(),
            submitted_by_id=self.user_id,
            gpu_type_id=self.type_ids[gpu_type],
            gpus=_weighted(rng, PENDING_SIZES),
            walltime_minutes=60 * _weighted(rng, WALLTIME_HOURS),
            name=f"bench-{self.made}",
            script=SCRIPT,
            state="pending",
            reason="priority",
            submitted_at=submitted_at,
        )


def job_events_create(ids: list[int], before: str, after: str, message: str, at: datetime) -> None:
    JobEvent.objects.bulk_create(
        [
            JobEvent(job_id=pk, at=at, from_state=before, to_state=after, message=message)
            for pk in ids
        ],
        batch_size=BATCH,
    )


# -- building the site -----------------------------------------------------------------------


def build_site(*, scale: float, seed: int) -> BenchSite:
    """Write the whole site; returns what ``advance`` needs to keep it moving."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    now = timezone.now()
    user = User.objects.create_user("bench@example.org", None, full_name="Benchmark")
    type_ids = _gpu_types(scale)
    projects = _projects(rng, max(4, round(PROJECTS * scale)))
    ids = [project.pk for project in projects]
    rng.shuffle(ids)
    weights = list(accumulate(1.0 / (rank + 1) ** 0.9 for rank in range(len(ids))))
    nodes = {name: max(1, round(count * scale)) for name, count in NODES_BY_TYPE.items()}
    site = BenchSite(rng, user.pk, type_ids, ids, weights, nodes)
    holds = _running_jobs(site, scale, now)
    _allocations(rng, projects, type_ids, holds, now)
    jobs = [
        site._pending(now - timedelta(seconds=rng.uniform(0, 3 * DAY_SECONDS)))
        for _ in range(max(1, round(PENDING_JOBS * scale)))
    ]
    Job.objects.bulk_create(jobs, batch_size=BATCH)
    # Settle the freshly loaded tables (statistics, visibility map) before timing anything:
    # the figures must not depend on when autovacuum (if it runs at all) catches up.
    if connection.vendor == "postgresql" and not connection.in_atomic_block:  # not in tests
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return site


def _gpu_types(scale: float) -> dict[str, int]:
    type_ids = {}
    for name, count in NODES_BY_TYPE.items():
        gpu_type = GpuType.objects.create(name=name, memory_gb=141, power_watts=700)
        SimulatedPartition.objects.create(gpu_type=gpu_type, nodes=max(1, round(count * scale)))
        type_ids[name] = gpu_type.pk
    return type_ids


def _projects(rng: random.Random, count: int) -> list[Project]:
    organisations = {}
    for tier, facts in ORGANISATIONS.items():
        for index, (kind, country, founded, verified) in enumerate(facts):
            organisations[(tier, index)] = Organisation.objects.create(
                name=f"Bench tier {tier} org {index}",
                kind=kind,
                country=country,
                founded_on=timezone.localdate() - timedelta(days=700)
                if founded == "young"
                else founded,
                verification_state="verified" if verified else "pending",
                verification_decided_at=timezone.now() if verified else None,
            )
    projects = [
        Project(
            name=f"Bench project {n}",
            organisation=organisations[(_weighted(rng, TIERS), rng.randrange(2))],
            max_running_gpus=rng.choice((32, 128, 512)) if rng.random() < 0.15 else None,
            state="suspended" if rng.random() < 0.01 else "active",
        )
        for n in range(count)
    ]
    return Project.objects.bulk_create(projects, batch_size=BATCH)


def _running_jobs(site: BenchSite, scale: float, now: datetime) -> dict[tuple[int, int], Decimal]:
    """Fill the nodes (biggest jobs first); returns the GPU-hours held per (project, type)."""
    rng, total_nodes = site.rng, sum(NODES_BY_TYPE.values())
    jobs: list[Job] = []
    holds: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for name, nodes in site.nodes.items():
        pool = NodePool([8] * nodes)
        count = round(RUNNING_JOBS * scale * NODES_BY_TYPE[name] / total_nodes)
        for size in sorted((_weighted(rng, RUNNING_SIZES) for _ in range(count)), reverse=True):
            placement = pool.place(size) or pool.place(1)
            if placement is None:
                break
            job = _running(site, name, placement, now)
            jobs.append(job)
            holds[(job.project_id, job.gpu_type_id)] += job.hold_gpu_hours
    Job.objects.bulk_create(jobs, batch_size=BATCH)
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                project_id=j.project_id,
                gpu_type_id=j.gpu_type_id,
                kind="hold",
                gpu_hours=j.hold_gpu_hours,
                idempotency_key=j.ledger_key("hold"),
            )
            for j in jobs
        ],
        batch_size=BATCH,
    )
    return holds


def _running(site: BenchSite, gpu_type: str, placement: Any, now: datetime) -> Job:
    walltime = 60 * _weighted(site.rng, WALLTIME_HOURS)
    end = now + timedelta(minutes=walltime * site.rng.uniform(0.02, 1.0))
    start = end - timedelta(minutes=walltime)
    site.made += 1
    return Job(
        uuid=uuid.uuid4(),
        project_id=site.pick_project(),
        submitted_by_id=site.user_id,
        gpu_type_id=site.type_ids[gpu_type],
        gpus=sum(g for _n, g in placement),
        walltime_minutes=walltime,
        name=f"bench-{site.made}",
        script=SCRIPT,
        state="running",
        submitted_at=start,
        admitted_at=start,
        started_at=start,
        expected_end=end,
        placement=[list(pair) for pair in placement],
        backend_job_id=f"bench-{site.made}",
    )


def _allocations(
    rng: random.Random,
    projects: list[Project],
    type_ids: dict[str, int],
    holds: dict[tuple[int, int], Decimal],
    now: datetime,
) -> None:
    """Allocations of every type; grants cover the running holds (10 % are nearly spent)."""
    allocations, grants, usage = [], [], []
    today = now.date()
    for project in projects:
        allocated = math.exp(rng.uniform(math.log(1e3), math.log(1e6)))
        starved = rng.random() < 0.10
        for type_id in type_ids.values():
            held = holds.get((project.pk, type_id), Decimal(0))
            spare = rng.uniform(0, 40) if starved else allocated * rng.uniform(0.3, 1.0)
            allocations.append(
                Allocation(
                    project=project,
                    gpu_type_id=type_id,
                    starts_on=today - timedelta(days=30),
                    ends_on=today + timedelta(days=335),
                )
            )
            grants.append(
                LedgerEntry(
                    project=project,
                    gpu_type_id=type_id,
                    kind="grant",
                    gpu_hours=quantise_hours(held + Decimal(spare) + 1),
                    idempotency_key=f"bench-grant-{project.pk}-{type_id}",
                )
            )
        usage.append(
            FairShareUsage(
                project=project,
                decayed_usage_gpu_hours=allocated * rng.uniform(0, 0.8),
                as_of=now - timedelta(seconds=rng.uniform(0, DAY_SECONDS)),
            )
        )
    Allocation.objects.bulk_create(allocations, batch_size=BATCH)
    LedgerEntry.objects.bulk_create(grants, batch_size=BATCH)
    FairShareUsage.objects.bulk_create(usage, batch_size=BATCH)


# -- the rest of the kept site ---------------------------------------------------------------

LOAD_MEMBER_EMAIL = "load-benchmark@example.org"
"""The member of the busiest project that the load benchmark and the sweeps sign in as."""
APPLICATIONS = 3_000
MEMBER_REVIEWS = 200
NOTIFICATIONS = 2_000


def busiest_project() -> Project | None:
    """The project with the most pending jobs (the first project if nothing is pending)."""
    from django.db.models import Count

    busiest = (
        Job.objects.filter(state="pending")
        .values("project_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "project_id")
        .first()
    )
    if busiest is None:
        return Project.objects.first()
    return Project.objects.select_related("organisation").get(pk=busiest["project_id"])


def site_rest_build(*, seed: int, applications: int = APPLICATIONS) -> list[str]:
    """What a running site holds besides its queue, so that the route and form sweeps of the
    kept site reach every page with rows of full size: the grants benchmark's call of
    ``applications`` applications under review, the busiest project's own (awarded)
    application in it, the load benchmark's member a reviewer of ``MEMBER_REVIEWS`` of them
    with ``NOTIFICATIONS`` notifications, and an energy record for every finished job (with
    the monthly totals). Returns what it wrote, a line each."""
    from django.contrib.auth.models import Group

    from booking.energy.benchmark import energy_factors_create, finished_jobs_energy_write
    from booking.grants.benchmark import build_site as grants_site_build
    from booking.grants.services.reviews import review_sums_store
    from booking.models import (
        REVIEWERS_GROUP,
        Application,
        ApplicationRequest,
        ApplicationState,
        Notification,
        ReviewAssignment,
        ReviewScore,
    )

    rng = random.Random(seed)  # noqa: S311 - synthetic data
    project = busiest_project()
    if project is None:
        raise RuntimeError("the site has no project")
    now = timezone.now()
    member, _ = User.objects.get_or_create(email=LOAD_MEMBER_EMAIL)
    call = grants_site_build(applications=applications, chooser=rng)["large"]
    own = Application.objects.create(
        call=call,
        applicant=member,
        organisation=project.organisation,
        state=ApplicationState.AWARDED,
        title=f"{project.name}: the application it was awarded on",
        abstract="Training and evaluating models at scale.",
        submitted_at=now - timedelta(days=60),
        decided_at=now - timedelta(days=45),
    )
    ApplicationRequest.objects.bulk_create(
        ApplicationRequest(application=own, gpu_type_id=type_id, gpu_hours=Decimal(50_000))
        for type_id in Allocation.objects.filter(project=project).values_list(
            "gpu_type_id", flat=True
        )
    )
    Project.objects.filter(pk=project.pk).update(application=own)
    Group.objects.get_or_create(name=REVIEWERS_GROUP)[0].user_set.add(member)
    others = list(call.applications.exclude(pk=own.pk).values_list("pk", flat=True))
    assignments = ReviewAssignment.objects.bulk_create(
        ReviewAssignment(application_id=pk, reviewer=member)
        for pk in rng.sample(others, min(MEMBER_REVIEWS, len(others)))
    )
    criteria = list(call.criteria.all())
    scored = assignments[: len(assignments) // 2]  # half of them scored, the rest still to do
    ReviewScore.objects.bulk_create(
        ReviewScore(assignment=a, criterion=c, score=rng.randint(1, 5), comment="Sound.")
        for a in scored
        for c in criteria
    )
    review_sums_store(ReviewAssignment.objects.filter(pk__in=[a.pk for a in scored]))
    notifications = Notification.objects.bulk_create(
        (
            Notification(
                user=member,
                subject=f"Job bench-{n} finished",
                body="Your job finished.",
                url=f"/projects/{project.pk}/",
                read_at=now if n % 2 else None,
            )
            for n in range(NOTIFICATIONS)
        ),
        batch_size=BATCH,
    )
    energy_factors_create()
    records = finished_jobs_energy_write()
    return [
        f"the rest of the site: a call of {call.applications.count():,} applications (one of "
        f"them project {project.pk}'s), {len(assignments)} reviews asked of the load "
        f"benchmark's member, {len(notifications):,} notifications, {records:,} job energy "
        "records"
    ]
