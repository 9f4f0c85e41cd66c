"""Slurm accounts of the platform's projects, provisioned with sacctmgr, idempotently.

Each project has one account, ``<SLURM_ACCOUNT_PREFIX><project id>`` (``proj_42``), under a
parent account (``SLURM_PARENT_ACCOUNT``), with the platform's submit user as its only user.
Its association limits are a safety net behind the platform's ledger:

- ``GrpTRESMins=gres/gpu:<type>=N`` per GPU type: the project's granted GPU-minutes plus a
  margin (``SLURM_ACCOUNT_GPU_MINUTES_MARGIN``), 0 for a type without an active allocation;
- ``GrpTRES=gres/gpu=N``: the project's limit on running GPUs, if it has one;
- ``GrpJobs=0`` and ``GrpSubmitJobs=0`` while the project may not start jobs (suspended, or
  no allocation active): nothing new starts, running jobs are left alone.

The current associations are read in one sacctmgr call; only what differs is changed, so
provisioning twice changes nothing the second time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from booking.cluster.base import AccountSyncReport, ClusterAccount
from booking.cluster.slurm.jobs import parse_tres

ASSOC_FORMAT = "Account,User,ParentName,GrpTRESMins,GrpTRES,GrpJobs,GrpSubmit"
DESCRIPTION = "stargate-portal-project"
ORGANIZATION = "stargate"


@dataclass(frozen=True)
class Limits:
    """The association limits the platform manages ("" = no limit)."""

    gpu_minutes: tuple[tuple[str, str], ...]
    running_gpus: str
    jobs: str
    submit_jobs: str

    def settings(self, *, new: bool = False) -> list[str]:
        """sacctmgr's ``Name=value`` words; -1 clears a limit (a new account has none)."""
        minutes = ",".join(f"{name}={value}" for name, value in self.gpu_minutes)
        words = [
            *([f"GrpTRESMins={minutes}"] if minutes else []),
            f"GrpTRES=gres/gpu={self.running_gpus or -1}",
            f"GrpJobs={self.jobs or -1}",
            f"GrpSubmitJobs={self.submit_jobs or -1}",
        ]
        return [word for word in words if not (new and word.endswith("=-1"))]

    def as_found(self, current: Limits) -> bool:
        """Whether ``current`` (read from Slurm) already has these limits; GPU-minute limits
        of GPU types the platform does not manage are not looked at."""
        found = dict(current.gpu_minutes)
        return all(found.get(name) == value for name, value in self.gpu_minutes) and (
            self.running_gpus,
            self.jobs,
            self.submit_jobs,
        ) == (current.running_gpus, current.jobs, current.submit_jobs)


@dataclass(frozen=True)
class Association:
    parent: str
    users: frozenset[str]
    limits: Limits


@dataclass(frozen=True)
class AccountPlan:
    """What the platform wants in Slurm for its projects."""

    cluster: str
    parent: str
    user: str
    limits: Mapping[str, Limits]


def plan(
    accounts: Sequence[ClusterAccount],
    *,
    account_name: Callable[[str], str],
    gres_types: Mapping[str, str],
    known_tres: frozenset[str],
    margin: float,
    cluster: str,
    parent: str,
    user: str,
) -> AccountPlan:
    """The limits each account should have (GPU types Slurm does not account are left out)."""
    limits = {}
    for account in accounts:
        minutes = []
        for gpu_type, gres in sorted(gres_types.items()):
            tres = f"gres/gpu:{gres}"
            if tres in known_tres:
                granted = account.gpu_minutes.get(gpu_type, 0)
                minutes.append((tres, str(_with_margin(granted, margin))))
        blocked = "" if account.may_start_jobs else "0"
        running = account.max_running_gpus
        limits[account_name(account.project)] = Limits(
            gpu_minutes=tuple(sorted(minutes)),
            running_gpus="" if running is None else str(running),
            jobs=blocked,
            submit_jobs=blocked,
        )
    return AccountPlan(cluster=cluster, parent=parent, user=user, limits=limits)


def _with_margin(gpu_minutes: int, margin: float) -> int:
    """``gpu_minutes`` plus ``margin`` (0.10 = 10 %), rounded up, in exact decimal arithmetic."""
    return math.ceil(Decimal(gpu_minutes) * (1 + Decimal(str(margin)))) if gpu_minutes > 0 else 0


def parse_associations(text: str) -> dict[str, Association]:
    """``sacctmgr -n -P show assoc format=ASSOC_FORMAT`` → per account: parent, users and
    the limits of the account's own association."""
    parents: dict[str, str] = {}
    users: dict[str, set[str]] = defaultdict(set)
    limits: dict[str, Limits] = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 7:
            continue
        account, user, parent, minutes, tres, jobs, submit = fields
        if user:
            users[account].add(user)
            continue
        parents[account] = parent
        limits[account] = Limits(
            gpu_minutes=tuple(sorted(parse_tres(minutes).items())),
            running_gpus=parse_tres(tres).get("gres/gpu", ""),
            jobs=jobs,
            submit_jobs=submit,
        )
    return {
        account: Association(parents[account], frozenset(users[account]), limits[account])
        for account in parents
    }


def commands(wanted: AccountPlan, current: Mapping[str, Association]) -> list[list[str]]:
    """The sacctmgr commands that take ``current`` to ``wanted`` (none when they agree): new
    accounts are created with their limits, grouped by limits; changed ones are modified,
    grouped the same way (each sacctmgr call costs a few tenths of a second)."""
    on_cluster = [f"cluster={wanted.cluster}"] if wanted.cluster else []
    found: list[list[str]] = []
    if wanted.parent not in current:
        found.append(["add", "account", wanted.parent, *_labels(), *on_cluster])
    for limits, names in _changed(wanted, current).items():
        new = [name for name in names if name not in current]
        old = [name for name in names if name in current]
        if new:
            create = ["add", "account", ",".join(new), f"parent={wanted.parent}", *_labels()]
            found.append([*create, *on_cluster, *limits.settings(new=True)])
        if old:
            where = ["where", f"name={','.join(old)}", *on_cluster]
            found.append(["modify", "account", *where, "set", *limits.settings()])
    no_user = sorted(
        name
        for name in wanted.limits
        if name not in current or wanted.user not in current[name].users
    )
    if no_user:
        found.append(["add", "user", wanted.user, f"account={','.join(no_user)}", *on_cluster])
    return found


def _labels() -> list[str]:
    return [f"Description={DESCRIPTION}", f"Organization={ORGANIZATION}"]


def _changed(wanted: AccountPlan, current: Mapping[str, Association]) -> dict[Limits, list[str]]:
    """Accounts whose limits differ, grouped by the limits they should get (one sacctmgr
    call per group: each call costs about half a second)."""
    groups: dict[Limits, list[str]] = defaultdict(list)
    for name, limits in sorted(wanted.limits.items()):
        now = current.get(name)
        if now is None or not limits.as_found(now.limits):
            groups[limits].append(name)
    return groups


def report(wanted: AccountPlan, current: Mapping[str, Association]) -> AccountSyncReport:
    changed = {name for names in _changed(wanted, current).values() for name in names}
    names = sorted(wanted.limits)
    return AccountSyncReport(
        created=tuple(name for name in names if name not in current),
        updated=tuple(name for name in names if name in current and name in changed),
        unchanged=tuple(name for name in names if name in current and name not in changed),
    )
