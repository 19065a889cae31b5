"""The NGSI-LD twin of the waste centre's waiting time: one ``WasteCentreObserved`` entity per waste centre.

No Smart Data Models type describes a queue at a waste centre, so the type and
``waitingTime``/``saturated`` are Eclor's own terms (expanded by NGSI-LD's
default vocabulary); ``name`` and ``dateObserved`` keep their Smart Data
Models IRIs. The values are the latest estimate, as the "dechetterie-temps-attente"
dataset's live stream sends it. Served through ``app.ngsi.EntityType``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models.sensors import Sensor, WasteCentreEstimate
from app import ngsi
from app.ngsi import SDM, EntityType, compact, datetime_prop, geo, prop, urn

TYPE = "WasteCentreObserved"


def _select(ids: list[str] | None, territory_id: int | None = None) -> Any:
    """The waste centres (of one territory when given: the NGSI-LD request's host's)."""
    query = select(Sensor).where(col(Sensor.kind) == "waste_centre")
    if territory_id is not None:
        query = query.where(col(Sensor.territory_id) == territory_id)
    if ids is not None:
        query = query.where(col(Sensor.id).in_(ids))
    return query


def _count(session: Session, ids: list[str] | None) -> int:
    return int(
        session.scalar(_select(ids, ngsi.territory_of(session)).with_only_columns(func.count()))
        or 0
    )


def waits_entity(sensor: Sensor, latest: WasteCentreEstimate | None) -> dict[str, Any]:
    seen = latest.ts if latest is not None else None
    return compact(
        {
            "id": urn(TYPE, sensor.id),
            "type": TYPE,
            "name": prop(sensor.name),
            "location": geo(sensor.lat, sensor.lon, 5),
            "dateObserved": datetime_prop(seen),
            "waitingTime": prop(round(latest.wait_min, 1), seen, "MIN")
            if latest is not None and latest.wait_min is not None
            else None,
            "saturated": prop(bool(latest.saturated), seen) if latest is not None else None,
        }
    )


def _page(
    session: Session, ids: list[str] | None, offset: int, limit: int
) -> Iterator[dict[str, Any]]:
    sensors = session.scalars(
        _select(ids, ngsi.territory_of(session))
        .order_by(col(Sensor.id))
        .offset(offset)
        .limit(limit)
    ).all()
    for sensor in sensors:  # a handful of waste centres: one indexed read of the latest each
        latest = session.scalars(
            select(WasteCentreEstimate)
            .where(col(WasteCentreEstimate.sensor_id) == sensor.id)
            .order_by(col(WasteCentreEstimate.ts).desc())
            .limit(1)
        ).first()
        yield waits_entity(sensor, latest)


WAITS = EntityType(
    TYPE, _count, _page, terms={"name": f"{SDM}name", "dateObserved": f"{SDM}dateObserved"}
)
NGSI_TYPES = (WAITS,)
