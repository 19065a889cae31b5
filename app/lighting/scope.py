"""Public lighting per territory: which territory a light, group, cabinet, program, calendar or
device alarm belongs to, and the queries a request makes kept to the request's territory.

The inventory (cabinets, groups, lights) belongs to its commune's territory, else to the territory
of the staff who imported it; programs and calendars to the territory whose staff wrote them; a
device alarm to its device's territory (app.device_alarms). Every lighting query a request makes
goes through :func:`scoped` or one of the ``*_in`` look-ups with the request's territory, so a page,
an API or a command issued on one territory's host never reads or reaches another's rows.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlmodel import Session, col

from app import territories
from app.models.lighting import LightCabinet, LightCalendar, LightGroup, LightProgram, Streetlight
from app.models.territory import Commune

Row = TypeVar("Row", LightCabinet, LightGroup, Streetlight, LightProgram, LightCalendar)


def scoped(stmt: Any, model: Any, territory_id: int | None) -> Any:
    """``stmt`` (a select over ``model``, a table with ``territory_id``) kept to one territory's
    rows; None is the whole install, for what no request makes (the command line, jobs)."""
    if territory_id is None:
        return stmt
    return stmt.where(model.territory_id == territory_id)


def row_in(session: Session, model: type[Row], key: Any, territory_id: int) -> Row | None:
    """The row of that key if it belongs to the territory, else None (as if it did not exist)."""
    row: Row | None = territories.row_in(session, model, key, territory_id)
    return row


def light_ids(territory_id: int) -> Any:
    """A select of the territory's light ids (a command's or a reading's light)."""
    return select(col(Streetlight.id)).where(col(Streetlight.territory_id) == territory_id)


def commune_territories(session: Session, keys: set[str]) -> dict[str, int]:
    """The territory of each commune key given (keys no commune has are left out)."""
    if not keys:
        return {}
    rows = session.execute(
        select(col(Commune.insee), col(Commune.territory_id)).where(col(Commune.insee).in_(keys))
    ).all()
    return {str(insee): int(territory) for insee, territory in rows}
