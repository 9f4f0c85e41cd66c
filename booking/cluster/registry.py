"""Which cluster backend runs admitted jobs: ``settings.CLUSTER_BACKEND``, a short name of a
backend that ships with the platform or the dotted path of any ``ClusterBackend`` subclass
(``"simulator"``, ``"mysite.cluster.MyBackend"``)."""

import inspect
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from booking.cluster.base import ClusterBackend

BACKENDS = {
    "simulator": "booking.cluster.simulator.SimulatorBackend",
    "slurm": "booking.cluster.slurm.SlurmBackend",
}
"""The backends that ship with the platform, by the name ``CLUSTER_BACKEND`` takes."""


def cluster_backend() -> ClusterBackend:
    """An instance of the configured backend (cheap: backends keep their state outside)."""
    return backend_class(settings.CLUSTER_BACKEND)()


@cache
def backend_class(name: str) -> type[ClusterBackend]:
    """The backend class of a short name or a dotted path."""
    path = BACKENDS.get(name, name)
    try:
        found = import_string(path)
    except ImportError as error:
        known = ", ".join(sorted(BACKENDS))
        raise ImproperlyConfigured(
            f"Unknown CLUSTER_BACKEND {name!r}: neither a known backend ({known}) nor an "
            f"importable dotted path ({error})."
        ) from error
    if not (isinstance(found, type) and issubclass(found, ClusterBackend)):
        raise ImproperlyConfigured(f"CLUSTER_BACKEND {name!r} is not a ClusterBackend subclass.")
    if inspect.isabstract(found):
        raise ImproperlyConfigured(f"CLUSTER_BACKEND {name!r} is abstract: name a concrete one.")
    return found
