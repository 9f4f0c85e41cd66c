"""The low-balance notice: a project's PI and managers hear once when the available hours of
an allocation drop below ``LOW_BALANCE_FRACTION`` of its granted hours; a top-up re-arms it."""

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from booking.ledger.selectors import Balance, balance_of, balances_by_allocation
from booking.models import Allocation
from booking.notifications.services import notify
from booking.permissions import project_managers


def balance_is_low(balance: Balance) -> bool:
    threshold = balance.granted * Decimal(str(settings.LOW_BALANCE_FRACTION))
    return balance.granted > 0 and balance.available < threshold


def low_balance_check_needed(allocation: Allocation, balance: Balance) -> bool:
    """Whether the notice's state (sent or re-armed) no longer matches the balance."""
    return allocation.low_balance_notified != balance_is_low(balance)


def allocation_check_low_balance(*, allocation: Allocation) -> bool:
    """Notify the PI and managers once when the balance is low; re-arm when it is not.
    Returns whether a notice went out."""
    with transaction.atomic():
        locked = (
            Allocation.objects.select_for_update()
            .select_related("project", "gpu_type")
            .get(pk=allocation.pk)
        )
        balance = balance_of(project=locked.project, gpu_type=locked.gpu_type)
        low = balance_is_low(balance)
        if locked.low_balance_notified == low:
            return False
        locked.low_balance_notified = low
        locked.save(update_fields=["low_balance_notified"])
        if not low:
            return False
        notify(
            users=project_managers(locked.project),
            subject=_("Low balance: %(p)s %(g)s")
            % {"p": locked.project.name, "g": locked.gpu_type.name},
            body=_("%(a)s of %(g)s GPU-hours left.")
            % {"a": balance.available, "g": balance.granted},
            url=reverse("grants:project_detail", args=[locked.project_id]),
        )
    return True


def allocations_low_balance_sweep(*, today: date) -> int:
    """Check every allocation active ``today`` whose notice state no longer matches its
    balance: the checks a broker outage kept from running. Returns how many notices went out."""
    allocations = list(
        Allocation.objects.filter(starts_on__lte=today, ends_on__gte=today).order_by("pk")
    )
    balances = balances_by_allocation({(a.project_id, a.gpu_type_id) for a in allocations})
    return sum(
        allocation_check_low_balance(allocation=allocation)
        for allocation in allocations
        if low_balance_check_needed(
            allocation, balances[allocation.project_id, allocation.gpu_type_id]
        )
    )
