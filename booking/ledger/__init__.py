"""The append-only GPU-hour ledger: movements, balances, budget verdicts, GPU-hour units.

- ``hours``: how many GPU-hours a job holds and uses (pure, no Django);
- ``selectors``: balances derived from the ledger (one query for one or many allocations);
- ``budget``: whether a hold fits a balance, waits for other holds, or can never fit;
- ``services``: every movement (grant, hold, release, charge, refund, adjustment);
- ``low_balance``: the notice to a project's managers when a balance runs low.

Nothing is imported here, so the pure ``hours`` module can be used without Django.
"""
