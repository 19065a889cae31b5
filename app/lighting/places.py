"""Where each light is, for the rules of maintenance (``Locator``): by light id on the ``lights``
layer, and by device id for the lighting alarms (a light or a sensor that is offline or at fault)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col

from app.interfaces import Locator, Place
from app.models.lighting import Streetlight
from app.models.sensors import Sensor


def _lights(session: Session, column: str, ids: Sequence[str] | None) -> dict[str, Place]:
    key = getattr(Streetlight, column)
    query = sa.select(
        key.label("key"),
        col(Streetlight.commune_insee),
        col(Streetlight.lat),
        col(Streetlight.lon),
        col(Streetlight.last_seen_at),
    )
    out: dict[str, Place] = {}
    chunks = [None] if ids is None else [list(ids)[i : i + 500] for i in range(0, len(ids), 500)]
    for part in chunks:
        rows = session.execute(query if part is None else query.where(key.in_(part))).all()
        out.update(
            {
                r.key: Place(r.key, r.commune_insee, r.lat, r.lon, "light", 0, r.last_seen_at)
                for r in rows
            }
        )
    return out


def lights(session: Session, ids: Sequence[str]) -> dict[str, Place]:
    return _lights(session, "id", ids)


def all_lights(session: Session) -> dict[str, Place]:
    return _lights(session, "id", None)


def devices(session: Session, ids: Sequence[str]) -> dict[str, Place]:
    """Lights by device id, and sensors (whose device id is their id)."""
    out = _lights(session, "device_id", ids)
    rest = [i for i in ids if i not in out]
    for start in range(0, len(rest), 500):
        for r in session.execute(
            sa.select(
                col(Sensor.id),
                col(Sensor.name),
                col(Sensor.kind),
                col(Sensor.commune_insee),
                col(Sensor.lat),
                col(Sensor.lon),
            ).where(col(Sensor.id).in_(rest[start : start + 500]))
        ).all():
            out[r.id] = Place(r.name, r.commune_insee, r.lat, r.lon, r.kind)
    return out


def all_devices(session: Session) -> dict[str, Place]:
    return _lights(session, "device_id", None)


LOCATORS = (Locator("lights", lights, all_lights), Locator("alarms", devices, all_devices))
