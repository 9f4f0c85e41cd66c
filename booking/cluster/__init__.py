"""Cluster backends: one interface (``base.ClusterBackend``), one module or package per
backend (``simulator/``), and the registry that loads the configured one
(``registry.cluster_backend``). Nothing is imported here, so ``base`` stays importable on
its own."""
