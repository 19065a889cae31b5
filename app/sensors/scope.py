"""Sensors per territory: a sensor belongs to its commune's territory (``sensors.territory_id``).

A request's handler binds its territory to the session (``app.territories.bind``; a home panel's
session comes bound); every sensors query a page makes goes through :func:`mine`, so a page on one
territory's host shows that territory's sensors only. An unbound session (the worker, the command
line) sees the whole install.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col

from app.models.sensors import Sensor
from app.territories import bound


def territory_id(session: Session) -> int | None:
    """The territory bound to the session, or None (the whole install)."""
    territory = bound(session)
    return territory.id if territory is not None else None


def mine(session: Session, query: Any) -> Any:
    """``query`` (a select over ``sensors``) kept to the session's territory's sensors."""
    territory = territory_id(session)
    return query if territory is None else query.where(col(Sensor.territory_id) == territory)
