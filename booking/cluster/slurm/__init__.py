"""The Slurm backend (``CLUSTER_BACKEND=slurm``): one module per subject.

``backend`` (the ``ClusterBackend``), ``commands`` (running Slurm's commands safely, the
backoff), ``nodes`` (capacity and node names), ``jobs`` (squeue/sacct → job states),
``scripts`` (sbatch's options and batch script, container templates), ``accounts``
(provisioning with sacctmgr), ``config`` (the ``SLURM_*`` settings).
"""

from booking.cluster.slurm.backend import SlurmBackend

__all__ = ["SlurmBackend"]
