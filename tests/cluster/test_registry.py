"""Which cluster backend runs the jobs: ``CLUSTER_BACKEND`` names one that ships with the
platform or gives the dotted path of any ``ClusterBackend``; anything else is a configuration
error that says what was wrong."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django import Settings

from booking.cluster.registry import cluster_backend
from booking.cluster.simulator.backend import SimulatorBackend


class SiteBackend(SimulatorBackend):
    """A site's own backend, found by its dotted path."""

    name = "site"


@pytest.mark.parametrize("configured", ["simulator", "booking.cluster.simulator.SimulatorBackend"])
def test_the_simulator_is_found_by_its_name_and_by_its_dotted_path(
    settings: Settings, configured: str
) -> None:
    settings.CLUSTER_BACKEND = configured

    backend = cluster_backend()

    assert type(backend) is SimulatorBackend
    assert backend.name == "simulator"


def test_a_sites_own_backend_is_found_by_its_dotted_path(settings: Settings) -> None:
    settings.CLUSTER_BACKEND = f"{__name__}.SiteBackend"

    assert type(cluster_backend()) is SiteBackend


def test_the_backend_follows_the_setting_when_it_changes(settings: Settings) -> None:
    settings.CLUSTER_BACKEND = f"{__name__}.SiteBackend"
    assert type(cluster_backend()) is SiteBackend

    settings.CLUSTER_BACKEND = "simulator"

    assert type(cluster_backend()) is SimulatorBackend


@pytest.mark.parametrize("configured", ["slurm-ish", "booking.cluster.simulator.NoSuchBackend"])
def test_an_unknown_backend_is_a_configuration_error_naming_it_and_the_known_ones(
    settings: Settings, configured: str
) -> None:
    settings.CLUSTER_BACKEND = configured

    with pytest.raises(ImproperlyConfigured) as error:
        cluster_backend()

    message = str(error.value)
    assert f"Unknown CLUSTER_BACKEND {configured!r}" in message
    assert "simulator" in message


@pytest.mark.parametrize(
    "configured",
    [
        "booking.cluster.base.JobSpec",  # a class, not a backend
        "booking.cluster.registry.BACKENDS",  # not even a class
        "booking.cluster.simulator.backend.scripted_outcome",  # a function
    ],
)
def test_a_dotted_path_to_something_that_is_not_a_backend_is_a_configuration_error(
    settings: Settings, configured: str
) -> None:
    settings.CLUSTER_BACKEND = configured

    with pytest.raises(ImproperlyConfigured) as error:
        cluster_backend()

    assert str(error.value) == (f"CLUSTER_BACKEND {configured!r} is not a ClusterBackend subclass.")


def test_the_abstract_interface_itself_is_refused_at_once(settings: Settings) -> None:
    settings.CLUSTER_BACKEND = "booking.cluster.base.ClusterBackend"
    with pytest.raises(ImproperlyConfigured, match="is abstract"):
        cluster_backend()
