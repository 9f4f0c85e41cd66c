"""Each GPU type's booking rules: the bookable pool and the horizon per priority tier.

A type's ``CapacityPolicy`` row is made on first use with the defaults of the settings
(``CAPACITY_POOL_SHARE``, ``CAPACITY_HORIZON_DAYS``) and the node count the cluster reports;
staff change it in the console (``services.policies.capacity_policy_update``, audited); the
node counts follow the cluster (``site_nodes_refresh``, Celery beat).
"""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from booking.cluster.base import BackendUnavailable
from booking.cluster.registry import cluster_backend
from booking.models import CapacityPolicy, GpuType

TIERS = (1, 2, 3, 4)


def default_horizons() -> dict[int, int]:
    """Days ahead each tier may book, from ``CAPACITY_HORIZON_DAYS``."""
    configured = {int(tier): int(days) for tier, days in settings.CAPACITY_HORIZON_DAYS.items()}
    return {tier: configured.get(tier, max(configured.values(), default=56)) for tier in TIERS}


def site_nodes_of(gpu_type: GpuType) -> int | None:
    """The GPU type's nodes as the cluster reports them; None when it cannot be asked now."""
    try:
        nodes = cluster_backend().capacity().get(gpu_type.name)
    except BackendUnavailable:
        return None
    return 0 if nodes is None else nodes.nodes


def policy_for(gpu_type: GpuType) -> CapacityPolicy:
    """The GPU type's policy, made with the defaults on first use."""
    policy = CapacityPolicy.objects.filter(gpu_type=gpu_type).first()
    if policy is not None:
        return policy
    nodes = site_nodes_of(gpu_type)
    horizons = default_horizons()
    fresh = CapacityPolicy(
        gpu_type=gpu_type,
        pool_share=Decimal(str(settings.CAPACITY_POOL_SHARE)),
        site_nodes=nodes or 0,
        site_nodes_at=timezone.now() if nodes is not None else None,
        **{f"horizon_days_tier_{tier}": days for tier, days in horizons.items()},
    )
    try:
        with transaction.atomic():
            fresh.save()
    except IntegrityError:  # made by a concurrent request first
        return CapacityPolicy.objects.get(gpu_type=gpu_type)
    return fresh


def policy_named(name: str) -> CapacityPolicy | None:
    """The policy of the GPU type called ``name`` (any case), its type loaded; None for an
    unknown type. One query once the policy exists."""
    policy = (
        CapacityPolicy.objects.select_related("gpu_type")
        .filter(gpu_type__name__iexact=name.strip())
        .first()
    )
    if policy is not None:
        return policy
    gpu_type = GpuType.objects.filter(name__iexact=name.strip()).first()
    return None if gpu_type is None else policy_for(gpu_type)


def policies_by_type() -> dict[str, CapacityPolicy]:
    """Every GPU type's policy by name (made for types that have none yet)."""
    found = {
        policy.gpu_type.name: policy for policy in CapacityPolicy.objects.select_related("gpu_type")
    }
    for gpu_type in GpuType.objects.exclude(name__in=list(found)):
        found[gpu_type.name] = policy_for(gpu_type)
    return dict(sorted(found.items()))


def site_nodes_refresh(*, now: datetime | None = None) -> int:
    """Store the node count the cluster reports for every GPU type with a policy. Returns how
    many changed. The pool follows; bookings already made are never taken back."""
    try:
        nodes = cluster_backend().capacity()
    except BackendUnavailable:
        return 0
    now = now or timezone.now()
    changed = 0
    for policy in CapacityPolicy.objects.select_related("gpu_type"):
        reported = nodes.get(policy.gpu_type.name)
        count = 0 if reported is None else reported.nodes
        changed += (
            CapacityPolicy.objects.filter(pk=policy.pk)
            .exclude(site_nodes=count)
            .update(site_nodes=count, site_nodes_at=now)
        )
    return changed
