"""Django's PostgreSQL backend, which leaves alone for a few seconds a server that a
connection attempt just waited for in vain (``base.DatabaseWrapper``), and what a query costs
in rows and pages by PostgreSQL's own counters (``costs``)."""
