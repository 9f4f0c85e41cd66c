"""The Slurm backend (``CLUSTER_BACKEND=slurm``): admitted jobs go to a real Slurm cluster
through its client commands (sbatch, squeue, sacct, scancel, scontrol, sinfo, sacctmgr).

- **Names.** A job is ``sp-<submission key>`` in Slurm, with the key in ``--comment`` too; a
  project's account is ``proj_<project id>``; the platform's reservations start with ``sp-``.
- **Placement.** The admission policy's node indices of a GPU type are that type's nodes in
  natural name order; the job is pinned to them with ``--nodelist`` so Slurm runs exactly what
  the platform admitted. A node that became unavailable since is dropped: Slurm then places
  the job on any node of the type.
- **Exactly once.** ``submit`` asks Slurm for the keys first (squeue by name, then sacct by
  name) and sends only the unknown ones; callers also ``find`` before any retry.
- **Reconcile.** ``poll`` costs one squeue call for every key (the controller's memory) and at
  most one sacct call, for the jobs that ended or that squeue has forgotten.
- **Slurm down.** Commands raise ``BackendUnavailable`` and a shared backoff makes the next
  calls fail at once for a while; ``capacity`` then reports every node unavailable (nothing is
  admitted while the cluster cannot be seen) and ``cancel`` raises (the platform keeps the
  keys in ``ClusterCancel`` and the next reconcile sends them).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cached_property

from django.utils import timezone

from booking.cluster.base import (
    AccountSyncReport,
    BackendJob,
    BackendUnavailable,
    ClusterAccount,
    ClusterBackend,
    GpuTypeNodes,
    JobSpec,
    SubmitResult,
)
from booking.cluster.slurm import accounts as slurm_accounts
from booking.cluster.slurm import jobs
from booking.cluster.slurm.commands import SlurmRefused
from booking.cluster.slurm.config import SlurmConfig
from booking.cluster.slurm.nodes import (
    SINFO_FORMAT,
    NodeLayout,
    hostnames,
    node_layout,
    parse_sinfo,
    reservation_fields,
    reserved_nodes,
)
from booking.cluster.slurm.scripts import JobRefused, batch_script, sbatch_arguments
from booking.models import GpuType

logger = logging.getLogger(__name__)

_LIVE_STATES = "PENDING,RUNNING,SUSPENDED,CONFIGURING,REQUEUED,REQUEUE_HOLD,RESIZING"
_layout_cache: dict[str, tuple[float, NodeLayout]] = {}
"""This process's last node layout per configuration, with the time it was read."""
_health_cache: dict[str, tuple[float, bool]] = {}
_tres_cache: dict[str, tuple[float, frozenset[str]]] = {}


class SlurmBackend(ClusterBackend):
    """Jobs, nodes, reservations and accounts of one Slurm cluster (``SLURM_*`` settings)."""

    name = "slurm"
    manages_accounts = True

    @cached_property
    def config(self) -> SlurmConfig:
        return SlurmConfig.from_settings()

    def now(self) -> datetime:
        return timezone.now()

    # -- running commands --------------------------------------------------------------------

    def _run(
        self,
        program: str,
        args: Sequence[str],
        *,
        stdin: str | None = None,
        for_job: bool = False,
    ) -> str:
        """Run a Slurm command under the shared backoff."""
        backoff = self.config.backoff
        backoff.check()
        try:
            output = self.config.commands.run(program, args, stdin=stdin, for_job=for_job)
        except BackendUnavailable as error:
            backoff.failed(error)
            raise
        backoff.succeeded()
        return output

    # -- nodes -------------------------------------------------------------------------------

    def capacity(self) -> dict[str, GpuTypeNodes]:
        return dict(self.layout().types)

    def layout(self, *, strict: bool = False) -> NodeLayout:
        """The nodes per GPU type, read at most every ``SLURM_CAPACITY_CACHE_SECONDS`` per
        process. When Slurm does not answer: the last layout with every node unavailable
        (``strict``: BackendUnavailable)."""
        cache_key = self.config.commands.conf or "default"
        read_at, last = _layout_cache.get(cache_key, (0.0, None))
        if last is not None and time.monotonic() - read_at < self.config.capacity_cache_seconds:
            return last
        try:
            layout = self._read_layout()
        except BackendUnavailable:
            if strict:
                raise
            logger.warning("Slurm nodes unknown: reporting no usable GPUs")
            return last.unreachable() if last is not None else NodeLayout({}, {})
        _layout_cache[cache_key] = (time.monotonic(), layout)
        return layout

    def _read_layout(self) -> NodeLayout:
        partition = self.config.submit.partition
        sinfo = self._run(
            "sinfo", ["-h", "-N", "-o", SINFO_FORMAT, *([f"-p{partition}"] if partition else [])]
        )
        reservations = self._run("scontrol", ["show", "reservation", "-o"])
        gres_types = {name: self.config.gres_type(name) for name in _gpu_type_names()}
        own_prefix = self.config.submit.reservation_prefix
        return node_layout(
            parse_sinfo(sinfo), gres_types, reserved_nodes(reservations, own_prefix=own_prefix)
        )

    # -- jobs --------------------------------------------------------------------------------

    def submit(self, specs: Sequence[JobSpec]) -> SubmitResult:
        """sbatch the keys Slurm does not know yet, ``SLURM_SUBMIT_CONCURRENCY`` at a time.
        If Slurm stops answering part way, the jobs sent so far are returned and the others
        left for the next try (which finds any that did reach Slurm); BackendUnavailable
        when none could be sent."""
        if not specs:
            return SubmitResult(accepted={}, rejected={})
        layout = self.layout(strict=True)
        rejected: dict[str, str] = {}
        ready: dict[str, tuple[list[str], str]] = {}
        for spec in specs:
            try:
                ready[spec.key] = self._sbatch_input(spec, layout)
            except JobRefused as refused:
                rejected[spec.key] = str(refused)
        accepted = {key: job.backend_job_id for key, job in self._known(ready).items()}
        _ensure_directory(self.config.submit.output_dir)
        unsent = [(key, *sbatch) for key, sbatch in ready.items() if key not in accepted]
        with ThreadPoolExecutor(max_workers=self.config.submit_concurrency) as pool:
            outcomes = list(pool.map(self._sbatch, unsent))
        failures = [outcome for _key, outcome in outcomes if isinstance(outcome, BaseException)]
        for key, outcome in outcomes:
            if isinstance(outcome, SlurmRefused):
                rejected[key] = f"Slurm refused it: {outcome}"
            elif isinstance(outcome, str):
                accepted[key] = outcome
        unavailable = [error for error in failures if isinstance(error, BackendUnavailable)]
        if unavailable and not accepted and not rejected:
            raise unavailable[0]
        return SubmitResult(accepted=accepted, rejected=rejected)

    def _sbatch(self, job: tuple[str, list[str], str]) -> tuple[str, str | Exception]:
        """One sbatch: the job id, or what went wrong (the threads of ``submit`` return it)."""
        key, args, script = job
        try:
            output = self._run("sbatch", args, stdin=script, for_job=True)
        except (SlurmRefused, BackendUnavailable) as error:
            return key, error
        return key, output.strip().split(";")[0]

    def _known(self, keys: Collection[str]) -> dict[str, BackendJob]:
        """``find``, unless this instance's own ``find`` answered for these keys in the last
        two seconds (dispatch finds, then submits what was not found)."""
        asked_at, unknown = self._last_unknown
        if time.monotonic() - asked_at < 2 and set(keys) <= unknown:
            return {}
        return self.find(keys)

    def _sbatch_input(self, spec: JobSpec, layout: NodeLayout) -> tuple[list[str], str]:
        nodes_of_type = layout.types.get(spec.gpu_type)
        if nodes_of_type is None:
            raise JobRefused(f"no {spec.gpu_type} nodes on this cluster")
        indices = [node for node, _gpus in spec.placement]
        shares = {gpus for _node, gpus in spec.placement}
        even = len(shares) == 1 and min(shares) * len(indices) == spec.gpus
        if not even or len(set(indices)) != len(indices):
            raise JobRefused(f"placement {spec.placement} does not spread {spec.gpus} GPUs evenly")
        if any(gpus > nodes_of_type.gpus_per_node for gpus in shares):
            raise JobRefused(f"placement {spec.placement} exceeds the nodes' GPUs")
        try:
            names = layout.node_names(spec.gpu_type, indices)
        except IndexError as error:
            raise JobRefused(f"no nodes {indices} of {spec.gpu_type}") from error
        if any(index in nodes_of_type.unavailable for index in indices):
            logger.info("job %s: its node went away since admission; Slurm places it", spec.key)
            names = []
        args = sbatch_arguments(
            spec,
            gres_type=self.config.gres_type(spec.gpu_type),
            nodes=len(indices),
            node_names=names,
            options=self.config.submit,
        )
        return args, batch_script(spec, options=self.config.submit)

    _last_unknown: tuple[float, frozenset[str]] = (0.0, frozenset())

    def find(self, keys: Collection[str]) -> dict[str, BackendJob]:
        found = self._jobs(keys, details=False)
        self._last_unknown = (time.monotonic(), frozenset(keys) - set(found))
        return found

    def poll(self, keys: Collection[str]) -> dict[str, BackendJob]:
        return self._jobs(keys, details=True)

    def _jobs(self, keys: Collection[str], *, details: bool) -> dict[str, BackendJob]:
        """The jobs Slurm knows among ``keys``: squeue for all of them; sacct for those
        squeue has forgotten and, with ``details``, for those that ended."""
        names = {self.config.submit.job_name(key): key for key in keys}
        if not names:
            return {}
        queued = _one_per_name(jobs.parse_squeue(self._squeue(names)))
        asked = [name for name in names if name not in queued or (details and queued[name].final)]
        accounted = self._sacct(asked, queued) if asked else {}
        found: dict[str, BackendJob] = {}
        for name, key in names.items():
            row, record = queued.get(name), accounted.get(name)
            if record is not None and (row is None or (row.final and jobs.is_final(record.state))):
                found[key] = jobs.accounted_job(key, record, hostnames(record.nodes))
            elif row is not None:
                # sacct learns of an end a moment after squeue: until then it still runs.
                found[key] = jobs.live_job(key, row, hostnames(row.nodes))
        return found

    def _squeue(self, names: Iterable[str]) -> str:
        return self._run(
            "squeue", ["-h", "-t", "all", f"--name={','.join(names)}", "-o", jobs.SQUEUE_FORMAT]
        )

    def _sacct(
        self, names: Sequence[str], queued: dict[str, jobs.QueueRow]
    ) -> dict[str, jobs.AccountingRow]:
        """Accounting records of ``names``: by job id when squeue gave every id (the
        database's primary key; rows are matched by id, because a job cancelled before its
        start record reached the database is briefly named ``allocation`` there), else by
        name over ``SLURM_LOOKBACK_DAYS``."""
        fields = ["-X", "-P", "-n", "-a", f"--format={','.join(jobs.SACCT_FIELDS)}"]
        if all(name in queued for name in names):
            by_id = {queued[name].job_id: name for name in names}
            shown = self._run("sacct", [*fields, f"--jobs={','.join(by_id)}"])
            rows = [row for row in jobs.parse_sacct(shown) if row.job_id in by_id]
            return {by_id[row.job_id]: row for row in rows}
        days = self.config.lookback_days
        selection = [f"--name={','.join(names)}", f"--starttime=now-{days}days"]
        return _one_per_name(jobs.parse_sacct(self._run("sacct", [*fields, *selection])))

    def cancel(self, keys: Collection[str]) -> None:
        """scancel the keys' live jobs; BackendUnavailable if Slurm does not answer (the
        platform keeps the keys and sends them again)."""
        keys = list(keys)
        if not keys:
            return
        names = ",".join(self.config.submit.job_name(key) for key in keys)
        listed = self._run("squeue", ["-h", "-t", _LIVE_STATES, f"--name={names}", "-o", "%i"])
        ids = listed.split()
        if not ids:
            return
        try:
            self._run("scancel", ids)
        except SlurmRefused as refused:  # a job ended in between: nothing left to stop
            logger.info("scancel: %s", refused)

    # -- reservations ------------------------------------------------------------------------

    def create_reservation(
        self,
        *,
        name: str,
        account: str,
        gpu_type: str,
        nodes: int,
        starts_at: datetime,
        ends_at: datetime,
    ) -> tuple[int, ...]:
        """Whole nodes of ``gpu_type`` (Slurm 22.05 cannot reserve a GPU count), picked by
        Slurm among that type's nodes. ValueError when Slurm refuses (busy, not enough)."""
        layout = self.layout(strict=True)
        if gpu_type not in layout.names:
            raise ValueError(f"no {gpu_type} nodes on this cluster")
        try:
            reservation = self.config.submit.reservation(name)
            slurm_account = self.config.submit.account(account)
        except JobRefused as refused:
            raise ValueError(str(refused)) from refused
        utc = "%Y-%m-%dT%H:%M:%S"  # the commands run with TZ=UTC
        try:
            self._run(
                "scontrol",
                [
                    "create",
                    "reservation",
                    f"ReservationName={reservation}",
                    f"StartTime={starts_at.astimezone(UTC).strftime(utc)}",
                    f"EndTime={ends_at.astimezone(UTC).strftime(utc)}",
                    f"Accounts={slurm_account}",
                    *_reserved_nodes(layout, gpu_type, nodes),
                ],
            )
        except SlurmRefused as refused:
            raise ValueError(f"Slurm refused the reservation: {refused}") from refused
        shown = self._run("scontrol", ["show", "reservation", reservation, "-o"])
        chosen = hostnames(reservation_fields(shown).get("Nodes", ""))
        return layout.node_indices(gpu_type, chosen)

    def delete_reservation(self, name: str) -> None:
        try:
            reservation = self.config.submit.reservation(name)
        except JobRefused:
            return
        try:
            self._run("scontrol", ["delete", f"ReservationName={reservation}"])
        except SlurmRefused as refused:
            if "invalid" not in str(refused).lower() and "not found" not in str(refused).lower():
                raise ValueError(f"Slurm refused to delete {reservation}: {refused}") from refused

    # -- accounts ----------------------------------------------------------------------------

    def accounts_sync(self, accounts: Sequence[ClusterAccount]) -> AccountSyncReport:
        """Create or update each project's Slurm account and its limits: one sacctmgr call
        to read them all, then only the changes (see ``booking.cluster.slurm.accounts``)."""
        wanted, current = self._account_plan(accounts)
        for command in slurm_accounts.commands(wanted, current):
            self._run("sacctmgr", ["-i", *command])
        return slurm_accounts.report(wanted, current)

    def account_commands(self, accounts: Sequence[ClusterAccount]) -> list[list[str]]:
        """The sacctmgr commands ``accounts_sync`` would run now (a dry run)."""
        return slurm_accounts.commands(*self._account_plan(accounts))

    def _account_plan(
        self, accounts: Sequence[ClusterAccount]
    ) -> tuple[slurm_accounts.AccountPlan, dict[str, slurm_accounts.Association]]:
        config = self.config
        known = self._known_tres()
        gpu_types = {name for account in accounts for name in account.gpu_minutes}
        wanted = slurm_accounts.plan(
            accounts,
            account_name=config.submit.account,
            gres_types={name: config.gres_type(name) for name in gpu_types | _gpu_type_names()},
            known_tres=known,
            margin=config.gpu_minutes_margin,
            cluster=config.cluster,
            parent=config.parent_account,
            user=config.submit_user,
        )
        where = [f"cluster={config.cluster}"] if config.cluster else []
        shown = self._run(
            "sacctmgr",
            ["-n", "-P", "show", "assoc", *where, f"format={slurm_accounts.ASSOC_FORMAT}"],
        )
        return wanted, slurm_accounts.parse_associations(shown)

    def _known_tres(self) -> frozenset[str]:
        """The TRES Slurm accounts (``gres/gpu:h100`` …), read at most every 5 minutes."""
        cache_key = self.config.commands.conf or "default"
        read_at, known = _tres_cache.get(cache_key, (0.0, frozenset()))
        if known and time.monotonic() - read_at < 300:
            return known
        shown = self._run("sacctmgr", ["-n", "-P", "show", "tres", "format=Type,Name"])
        pairs = (line.partition("|") for line in shown.split())
        known = frozenset(f"{kind}/{name}" for kind, _, name in pairs)
        _tres_cache[cache_key] = (time.monotonic(), known)
        return known

    # -- health ------------------------------------------------------------------------------

    def healthy(self) -> bool:
        """``scontrol ping`` (answers at once, even when the controller is down), at most
        every 5 s per process."""
        cache_key = self.config.commands.conf or "default"
        checked_at, answer = _health_cache.get(cache_key, (0.0, False))
        if time.monotonic() - checked_at < 5:
            return answer
        try:
            self.config.commands.run("scontrol", ["ping"], timeout_seconds=5)
            answer = True
        except (BackendUnavailable, SlurmRefused) as error:
            logger.warning("healthz: Slurm unavailable: %s", error)
            answer = False
        _health_cache[cache_key] = (time.monotonic(), answer)
        return answer


def _reserved_nodes(layout: NodeLayout, gpu_type: str, count: int) -> list[str]:
    """Which nodes a reservation asks for: ``count`` nodes with the GPU type's feature (Slurm
    picks free ones), or, when the nodes carry no such feature, the first ``count`` usable
    nodes of the type by name."""
    if gpu_type in layout.features:
        return [f"NodeCnt={count}", f"Features={layout.features[gpu_type]}"]
    unavailable = layout.types[gpu_type].unavailable
    usable = [name for index, name in enumerate(layout.names[gpu_type]) if index not in unavailable]
    if len(usable) < count:
        raise ValueError(f"only {len(usable)} usable nodes of {gpu_type}")
    return [f"Nodes={','.join(usable[:count])}"]


def _gpu_type_names() -> set[str]:
    return set(GpuType.objects.values_list("name", flat=True))


def _one_per_name(rows: Iterable[jobs.QueueRow] | Iterable[jobs.AccountingRow]) -> dict:
    """One row per job name: a live one before a finished one, then the newest. Two Slurm
    jobs for one key would be a bug, so it is logged."""
    chosen: dict[str, jobs.QueueRow | jobs.AccountingRow] = {}
    for row in rows:
        other = chosen.get(row.name)
        if other is not None and other.job_id != row.job_id:
            logger.error("two Slurm jobs named %s: %s and %s", row.name, other.job_id, row.job_id)
        if other is None or _rank(row) > _rank(other):
            chosen[row.name] = row
    return chosen


def _rank(row: jobs.QueueRow | jobs.AccountingRow) -> tuple[int, int]:
    live = not jobs.is_final(row.state)
    number = int(row.job_id.split("_")[0]) if row.job_id.split("_")[0].isdigit() else 0
    return int(live), number


_made_directories: set[str] = set()


def _ensure_directory(path: str) -> None:
    """Create the output directory once per process (on one host, or a shared file system)."""
    if path in _made_directories:
        return
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        logger.warning("cannot create Slurm output directory %s: %s", path, error)
    _made_directories.add(path)
