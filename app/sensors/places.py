"""Where each sensor is and how often it speaks, for the rules of maintenance (``Locator``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlmodel import Session

from app.interfaces import Locator, Place
from app.models.sensors import Sensor

_COLUMNS = (
    Sensor.id,
    Sensor.name,
    Sensor.kind,
    Sensor.commune_insee,
    Sensor.lat,
    Sensor.lon,
    Sensor.reporting_period_s,
    Sensor.last_seen_at,
)


def _place(row: Sensor) -> Place:
    return Place(
        row.name,
        row.commune_insee,
        row.lat,
        row.lon,
        row.kind,
        row.reporting_period_s,
        row.last_seen_at,
    )


def locate(session: Session, ids: Sequence[str]) -> dict[str, Place]:
    out: dict[str, Place] = {}
    wanted = list(ids)
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(*_COLUMNS).where(Sensor.id.in_(wanted[start : start + 500]))  # type: ignore[attr-defined]
        ).all()
        out.update({row.id: _place(row) for row in rows})
    return out


def everything(session: Session) -> dict[str, Place]:
    return {row.id: _place(row) for row in session.execute(select(*_COLUMNS)).all()}


LOCATORS = (Locator("sensors", locate, everything),)
