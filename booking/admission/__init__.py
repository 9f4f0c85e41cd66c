"""The Django adapter of the admission policy (``booking.scheduler``).

``admission_run`` loads (or updates) the snapshot, runs the pure policy and applies its
decisions in one transaction under a cluster-wide lock; ``jobs_dispatch`` sends admitted jobs
to the cluster after the commit; ``jobs_reconcile`` follows the cluster and settles budgets.
"""
