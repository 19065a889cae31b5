"""Where each sensor is and how often it speaks, for the rules of maintenance (``Locator``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from app.interfaces import Locator, Place
from app.models.sensors import Sensor
from app.sensors.ngsi_ld import SENSOR_TYPES, urn

_COLUMNS = (
    col(Sensor.id),
    col(Sensor.name),
    col(Sensor.kind),
    col(Sensor.commune_insee),
    col(Sensor.lat),
    col(Sensor.lon),
    col(Sensor.reporting_period_s),
    col(Sensor.last_seen_at),
    col(Sensor.territory_id),
)


def _place(row: Any) -> Place:
    """The place of a sensor, from the sensor or from a row of ``_COLUMNS``."""
    return Place(
        row.name,
        row.commune_insee,
        row.lat,
        row.lon,
        row.kind,
        row.reporting_period_s,
        row.last_seen_at,
        entity=urn(SENSOR_TYPES.get(row.kind, "Device"), row.id),
        territory_id=row.territory_id,
    )


def locate(session: Session, ids: Sequence[str]) -> dict[str, Place]:
    out: dict[str, Place] = {}
    wanted = list(ids)
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            sa.select(*_COLUMNS).where(col(Sensor.id).in_(wanted[start : start + 500]))
        ).all()
        out.update({row.id: _place(row) for row in rows})
    return out


def everything(session: Session) -> dict[str, Place]:
    return {row.id: _place(row) for row in session.execute(sa.select(*_COLUMNS)).all()}


LOCATORS = (Locator("sensors", locate, everything),)
