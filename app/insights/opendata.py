"""Small counts hidden as in open data: the decision-support pages use the open-data threshold."""

from __future__ import annotations

from app.opendata.contrib import K_ANONYMITY, suppress

__all__ = ["K_ANONYMITY", "hidden", "suppress"]


def hidden(value: float | None) -> float | None:
    """A count, or None when under the open-data threshold (11); nothing (0) hides no one."""
    if value is None or value == 0:
        return value
    return value if suppress(round(value)) is not None else None
