"""Running Slurm's commands: argument lists and standard input, never a shell; a clean
environment; a timeout; failures sorted into "Slurm said no" and "Slurm is not there".

Nothing a user typed ever reaches a command line here except as one argument of a list (a
job's script and environment travel on sbatch's standard input), and the commands run with
an environment built from scratch, so no variable of the platform's process (its database
address, its secret key, ``LD_PRELOAD``) reaches Slurm or a job.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.core.cache import cache

from booking.cluster.base import BackendUnavailable

logger = logging.getLogger(__name__)

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TRANSIENT_MESSAGES = (
    "unable to contact slurm controller",
    "socket timed out",
    "temporarily unable",
    "zero bytes were transmitted",
    "communication connection failure",
    "connection refused",
    "connection timed out",
    "problem talking to the database",
    "persistent connection",
    "resource temporarily unavailable",
    "transport endpoint is not connected",
    "slurmctld not responding",
)
"""Words of a controller or database that is down, slow or busy (lower case): retry later."""


class SlurmRefused(Exception):
    """Slurm ran the command and said no (an unknown account, an impossible request):
    retrying the same command will not help."""


@dataclass(frozen=True)
class SlurmCommands:
    """How to run the Slurm client commands of one cluster."""

    conf: str = ""
    bin_dir: str = ""
    timeout_seconds: float = 30.0

    def run(
        self,
        program: str,
        args: Sequence[str],
        *,
        stdin: str | None = None,
        for_job: bool = False,
        timeout_seconds: float | None = None,
    ) -> str:
        """Standard output of ``program args``; BackendUnavailable when Slurm cannot be
        reached (or is too slow), SlurmRefused when it answers with an error."""
        argv = [self.executable(program), *args]
        limit = timeout_seconds or self.timeout_seconds
        try:
            done = subprocess.run(  # noqa: S603 - an argument list, never a shell
                argv,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=limit,
                env=self.environment(for_job=for_job),
                cwd="/",
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise BackendUnavailable(f"{program} did not answer within {limit:g} s") from error
        except OSError as error:
            raise BackendUnavailable(f"{program} could not be run: {error}") from error
        if done.returncode == 0:
            return done.stdout
        message = " ".join((done.stderr or done.stdout).split())[:500] or f"exit {done.returncode}"
        if is_transient(message) or done.returncode < 0:
            raise BackendUnavailable(f"{program}: {message}")
        raise SlurmRefused(message)

    def executable(self, program: str) -> str:
        if self.bin_dir:
            return os.path.join(self.bin_dir, program)
        return shutil.which(program, path=SAFE_PATH) or program

    def environment(self, *, for_job: bool = False) -> dict[str, str]:
        """A fresh environment: Slurm's configuration, a fixed PATH, UTF-8. Queries print
        times as epoch seconds; a job (sbatch exports it) also gets HOME and USER."""
        env = {"PATH": SAFE_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        if self.conf:
            env["SLURM_CONF"] = self.conf
        if for_job:
            user = pwd.getpwuid(os.getuid())
            env |= {"HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name}
        else:
            env |= {"TZ": "UTC", "SLURM_TIME_FORMAT": "%s"}
        return env


def is_transient(message: str) -> bool:
    lowered = message.lower()
    return any(words in lowered for words in TRANSIENT_MESSAGES)


@dataclass(frozen=True)
class Backoff:
    """After Slurm failed to answer, calls fail at once for a while (``start_seconds``,
    doubling up to ``max_seconds``) instead of each waiting for a dead controller: a command
    against a stopped slurmctld takes about 9 s to give up. Shared by every worker through
    the cache; the first call after the pause tries Slurm again."""

    start_seconds: float = 1.0
    max_seconds: float = 60.0
    key: str = "booking:slurm:backoff"

    def check(self) -> None:
        state: Mapping[str, float] | None = cache.get(self.key)
        if state and state["until"] > time.time():
            wait = state["until"] - time.time()
            raise BackendUnavailable(f"Slurm did not answer; next try in {wait:.0f} s")

    def failed(self, why: BackendUnavailable) -> None:
        state = cache.get(self.key) or {"failures": 0}
        failures = int(state["failures"]) + 1
        pause = min(self.max_seconds, self.start_seconds * 2 ** (failures - 1))
        cache.set(self.key, {"failures": failures, "until": time.time() + pause}, 3600)
        logger.warning("Slurm unavailable (%s); pausing %.0f s", why, pause)

    def succeeded(self) -> None:
        if cache.get(self.key) is not None:
            cache.delete(self.key)
            logger.info("Slurm answers again")

    def reset(self) -> None:
        cache.delete(self.key)
