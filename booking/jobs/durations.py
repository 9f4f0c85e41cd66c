"""How a duration reads (walltimes, runtimes): "45 s", "20 min", "1 h 30 min", "2 h".

Services write these into a job's history and pages show them: one wording for both.
"""

from django.utils.translation import gettext as _


def minutes_text(minutes: int) -> str:
    """90 → "1 h 30 min"."""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return _("%(m)s min") % {"m": rest}
    if not rest:
        return _("%(h)s h") % {"h": hours}
    return _("%(h)s h %(m)s min") % {"h": hours, "m": rest}


def seconds_text(seconds: int) -> str:
    """5400 → "1 h 30 min"; under a minute in seconds."""
    if seconds < 60:
        return _("%(s)s s") % {"s": seconds}
    return minutes_text(round(seconds / 60))
