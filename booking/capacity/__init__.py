"""Capacity bookings: whole nodes of one GPU type reserved for a project for a time window.

- ``rules``: the window rules (hour-aligned, 1 hour to 14 days, how far ahead) and the refund
  deadline, pure functions of the figures they are given;
- ``policies``: each GPU type's bookable pool and booking horizons per tier (staff edit them);
- ``availability``: free bookable nodes per hour, and the nearest free windows;
- ``services/``: the writes people make: creating, cancelling and refunding bookings
  (``bookings``), the pool and horizon settings (``policies``), calendar feeds (``feeds``);
- ``lifecycle``: the charge when a window starts, the end of a window (Celery beat);
- ``reservations``: setting the booked nodes aside on the cluster, and giving them back;
- ``selectors``: the bookings a person may see, the console's timeline;
- ``calendar``: a project's bookings as iCalendar;
- ``api/``, ``portal/``, ``console/``, ``tasks``.

Bookings are paid through the ledger (``booking.ledger.services``) and set aside through the
cluster backend's ``create_reservation``/``delete_reservation`` (``booking.cluster``). Jobs that
run inside a booking name it by its id (``Job.booking``).
"""
