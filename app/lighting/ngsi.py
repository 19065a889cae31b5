"""Streetlight models as NGSI-LD ``StreetlightModel`` entities (Smart Data Models, dataModel.Streetlighting).

One entity per kind of lamp in the inventory (technology, rated power, model
name), the object of each ``Streetlight``'s ``refStreetlightModel``
(``app.ngsi.model_id``). Served by ``/ngsi-ld/v1/entities``
through ``app.ngsi.EntityType``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlmodel import Session, col, select

from app.models.lighting import Streetlight
from app import ngsi
from app.ngsi import SDM, EntityType, compact, model_id, prop, urn

TYPE = "StreetlightModel"
TECHNOLOGIES = ("LED", "LPS", "HPS")  # the model's lampTechnology enumeration
_MODEL = f"{SDM}dataModel.Streetlighting/"


def _models(session: Session, ids: list[str] | None) -> list[Any]:
    query = select(
        col(Streetlight.technology), col(Streetlight.nominal_w), col(Streetlight.model)
    ).distinct()
    territory_id = ngsi.territory_of(session)
    if territory_id is not None:  # the models of the request's territory's lamps
        query = query.where(col(Streetlight.territory_id) == territory_id)
    rows = session.execute(query).all()
    by_id = {model_id(row): row for row in rows}
    return [by_id[i] for i in sorted(by_id) if ids is None or i in ids]


def _count(session: Session, ids: list[str] | None) -> int:
    return len(_models(session, ids))


def model_entity(row: Any) -> dict[str, Any]:
    name = f"{row.technology} {row.nominal_w:g} W" + (f" {row.model}" if row.model else "")
    return compact(
        {
            "id": urn(TYPE, model_id(row)),
            "type": TYPE,
            "name": prop(name),
            "lampTechnology": prop(row.technology) if row.technology in TECHNOLOGIES else None,
            "powerConsumption": prop(row.nominal_w, unit="WTT"),
            "lanternModelName": prop(row.model) if row.model else None,
        }
    )


def _page(
    session: Session, ids: list[str] | None, offset: int, limit: int
) -> Iterator[dict[str, Any]]:
    for row in _models(session, ids)[offset : offset + limit]:
        yield model_entity(row)


MODELS = EntityType(
    TYPE,
    _count,
    _page,
    terms={
        TYPE: f"{_MODEL}{TYPE}",
        **{a: f"{_MODEL}{a}" for a in ("lampTechnology", "powerConsumption", "lanternModelName")},
    },
)
NGSI_TYPES = (MODELS,)
