"""The days of a regular trip as the form sends them (``d0``…``d6`` ticked, ``out``/``ret`` times).

A day ticked without a departure time takes the times of the first day
ticked (its own return time, if typed, is kept), so Monday's times carry to the
other days without JavaScript (``js/carpool.js`` fills them in as they are
typed where scripts run); a day with a departure and no return is a one-way day.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any

from app.carpool.trips import CarpoolError, minute_of
from app.i18n import gettext as _

Times = dict[int, tuple[int, int]]


def _minute(value: str, message: str) -> int:
    try:
        return minute_of(time.fromisoformat(value))
    except ValueError:
        raise CarpoolError(message) from None


def regular_days(data: Mapping[str, Any], margin: int) -> tuple[Times, Times]:
    """(outward, returns): weekday → (minute of the day, margin). Raises CarpoolError on a bad time."""
    ticked = [d for d in range(7) if data.get(f"d{d}")]
    outward: Times = {}
    returns: Times = {}
    first: tuple[str, str] | None = None
    for d in ticked:
        out, ret = (data.get(f"{kind}{d}") or "" for kind in ("out", "ret"))
        if first is None:
            first = (out, ret)
        elif not out:
            out, ret = first[0], ret or first[1]
        outward[d] = (_minute(out, _("Heure d'aller invalide.")), margin)
        if ret:
            returns[d] = (_minute(ret, _("Heure de retour invalide.")), margin)
    return outward, returns
