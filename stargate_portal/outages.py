"""A service this process failed to reach moments ago is left alone for a few seconds.

A service that stops answering costs each call its timeout. Without memory of the failure,
every request of an outage would pay it and hold its worker that long; with it, one call per
process and window pays, and the calls in between fail at once and are answered as that
service's outage is (a cache miss, a task counted as not queued, a 503 from the database).
The window's length is a setting, read at each call.
"""

import threading
import time

from django.conf import settings


class Outage:
    """When this process last failed to reach one service; ``seconds_setting`` names the
    setting that says how long it is then left alone."""

    def __init__(self, seconds_setting: str) -> None:
        self._seconds_setting = seconds_setting
        self._lock = threading.Lock()
        self._failed_at = float("-inf")

    @property
    def seconds(self) -> float:
        return float(getattr(settings, self._seconds_setting))

    def resting(self) -> bool:
        """Whether the last failure is more recent than the window: do not try now."""
        with self._lock:
            since = time.monotonic() - self._failed_at
        return since < self.seconds

    def record(self) -> None:
        with self._lock:
            self._failed_at = time.monotonic()

    def forget(self) -> None:
        with self._lock:
            self._failed_at = float("-inf")
