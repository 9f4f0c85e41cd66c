"""The budget verdict: can a job's hold be placed on its project's balance of a GPU type?

One rule, used by the submit service (which refuses what can never fit), by the portal's
budget preview (which says the same before the form is sent) and by the admission cycle
(which holds a queue head that can never fit, so it does not block its project's queue).
"""

from decimal import Decimal
from enum import StrEnum

from booking.ledger.selectors import Balance


class BudgetVerdict(StrEnum):
    FITS = "fits"
    """The available hours cover the hold now."""
    WAITS = "waits"
    """Only once other jobs' holds come back: the job waits with reason ``budget``."""
    REFUSED = "refused"
    """More than everything not yet charged: it could never run."""


def budget_verdict(*, hold_gpu_hours: Decimal, balance: Balance) -> BudgetVerdict:
    """Whether ``hold_gpu_hours`` fits ``balance`` now, later, or never."""
    if hold_gpu_hours > balance.unspent:
        return BudgetVerdict.REFUSED
    if hold_gpu_hours > balance.available:
        return BudgetVerdict.WAITS
    return BudgetVerdict.FITS
