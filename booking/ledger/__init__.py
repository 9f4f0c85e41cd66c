"""The append-only GPU-hour ledger: movements, balances, budget verdicts.

- ``selectors``: balances derived from the ledger (one query for one or many allocations);
- ``budget``: whether a hold fits a balance, waits for other holds, or can never fit;
- ``services``: every movement (grant, hold, release, charge, refund, adjustment);
- ``low_balance``: the notice to a project's managers when a balance runs low.

How many GPU-hours a job holds and uses is pure arithmetic shared with the admission policy:
``booking.scheduler.hours``.
"""
