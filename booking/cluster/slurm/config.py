"""The Slurm backend's settings (``SLURM_*`` in ``stargate_portal/settings.py``), read once per
backend instance into one object."""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from booking.cluster.slurm.commands import Backoff, SlurmCommands
from booking.cluster.slurm.scripts import PYXIS_TEMPLATE, SubmitOptions


@dataclass(frozen=True)
class SlurmConfig:
    commands: SlurmCommands
    submit: SubmitOptions
    backoff: Backoff
    cluster: str
    parent_account: str
    submit_user: str
    gres_types: Mapping[str, str]
    lookback_days: int
    capacity_cache_seconds: float
    gpu_minutes_margin: float
    submit_concurrency: int

    @classmethod
    def from_settings(cls) -> SlurmConfig:
        return cls(
            commands=SlurmCommands(
                conf=settings.SLURM_CONF,
                bin_dir=settings.SLURM_BIN_DIR,
                timeout_seconds=settings.SLURM_COMMAND_TIMEOUT_SECONDS,
            ),
            submit=SubmitOptions(
                account_prefix=settings.SLURM_ACCOUNT_PREFIX,
                job_name_prefix=settings.SLURM_JOB_NAME_PREFIX,
                reservation_prefix=settings.SLURM_RESERVATION_PREFIX,
                partition=settings.SLURM_PARTITION,
                qos=settings.SLURM_QOS,
                output_dir=str(settings.SLURM_OUTPUT_DIR),
                work_dir=settings.SLURM_WORK_DIR,
                container_template=container_template(),
            ),
            backoff=Backoff(max_seconds=settings.SLURM_BACKOFF_MAX_SECONDS),
            cluster=settings.SLURM_CLUSTER,
            parent_account=settings.SLURM_PARENT_ACCOUNT,
            submit_user=settings.SLURM_SUBMIT_USER or pwd.getpwuid(os.getuid()).pw_name,
            gres_types={name: gres.lower() for name, gres in settings.SLURM_GRES_TYPES.items()},
            lookback_days=settings.SLURM_LOOKBACK_DAYS,
            capacity_cache_seconds=settings.SLURM_CAPACITY_CACHE_SECONDS,
            gpu_minutes_margin=settings.SLURM_ACCOUNT_GPU_MINUTES_MARGIN,
            submit_concurrency=max(1, settings.SLURM_SUBMIT_CONCURRENCY),
        )

    def gres_type(self, gpu_type: str) -> str:
        """Slurm's GRES type of a platform GPU type: configured, or its name in lower case."""
        return self.gres_types.get(gpu_type, gpu_type.lower())


def container_template() -> str:
    """The site's container template: ``SLURM_CONTAINER_TEMPLATE_FILE``, else
    ``SLURM_CONTAINER_TEMPLATE``, else pyxis/enroot."""
    if settings.SLURM_CONTAINER_TEMPLATE_FILE:
        return Path(settings.SLURM_CONTAINER_TEMPLATE_FILE).read_text()
    return settings.SLURM_CONTAINER_TEMPLATE or PYXIS_TEMPLATE
