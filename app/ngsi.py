"""NGSI-LD building blocks shared by every domain that serves entities, and the entity types they contribute.

The NGSI-LD API (``app.sensors.ngsi_ld``, ``/ngsi-ld/v1/entities``) serves the
lights and sensors itself and every other type a domain contributes as an
:class:`EntityType` (``Contribution.ngsi_types``), handed over by
``app.domains.install``. Entities are in the normalised form: ``id`` a URN,
``{"type": "Property", "value": ...}``, ``{"type": "Relationship", "object": ...}``,
``{"type": "GeoProperty", "value": {GeoJSON}}``; errors are ProblemDetails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from app import territories

SDM = "https://smartdatamodels.org/"


class NgsiError(Exception):
    """An NGSI-LD error (ProblemDetails)."""

    def __init__(self, status: int, kind: str, title: str, detail: str = "") -> None:
        super().__init__(title)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail

    def body(self) -> dict[str, Any]:
        out = {"type": f"https://uri.etsi.org/ngsi-ld/errors/{self.kind}", "title": self.title}
        if self.detail:
            out["detail"] = self.detail
        return out


def model_id(light: Any) -> str:
    """The id of a light's model (``urn:ngsi-ld:StreetlightModel:...``): technology, wattage, model name."""
    name = f"{light.technology}-{light.nominal_w:g}W" + (f"-{light.model}" if light.model else "")
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in name)


def urn(entity_type: str, local_id: str) -> str:
    return f"urn:ngsi-ld:{entity_type}:{local_id}"


def parse_urn(value: str) -> tuple[str, str]:
    parts = value.split(":", 3)
    if (
        len(parts) != 4
        or parts[0] != "urn"
        or parts[1] != "ngsi-ld"
        or not parts[2]
        or not parts[3]
    ):
        raise NgsiError(
            400, "BadRequestData", "Invalid entity id", f"not an NGSI-LD URN: {value[:100]}"
        )
    return parts[2], parts[3]


def time_text(value: dt.datetime | None) -> str | None:
    """A stored time (naive UTC or aware) as NGSI-LD writes it: ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prop(
    value: Any, observed: dt.datetime | None = None, unit: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Property", "value": value}
    if observed is not None:
        out["observedAt"] = time_text(observed)
    if unit:
        out["unitCode"] = unit
    return out


def datetime_prop(value: dt.datetime | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"type": "Property", "value": {"@type": "DateTime", "@value": time_text(value)}}


def date_prop(day: str | None) -> dict[str, Any] | None:
    """A calendar day (``YYYY-MM-DD``) as an NGSI-LD Date value."""
    if day is None:
        return None
    return {"type": "Property", "value": {"@type": "Date", "@value": day}}


def rel(objects: str | list[str]) -> dict[str, Any]:
    return {"type": "Relationship", "object": objects}


def geo(lat: float | None, lon: float | None, decimals: int = 6) -> dict[str, Any] | None:
    if lat is None or lon is None:
        return None
    return {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [round(lon, decimals), round(lat, decimals)]},
    }


def territory_of(session: Session) -> int | None:
    """The territory whose entities the API answers with on this session (its request's host,
    bound by the NGSI-LD routes); None outside a request: every territory's."""
    territory = territories.bound(session)
    return territory.id if territory is not None else None


def compact(entity: dict[str, Any]) -> dict[str, Any]:
    """The entity without its absent attributes (NGSI-LD never sends null)."""
    return {k: v for k, v in entity.items() if v is not None}


Count = Callable[[Session, list[str] | None], int]
Page = Callable[[Session, list[str] | None, int, int], Iterable[dict[str, Any]]]


@dataclass(frozen=True)
class EntityType:
    """An NGSI-LD entity type a domain serves through ``/ngsi-ld/v1/entities``.

    ``count(session, local_ids)`` counts its entities (``None``: all of them);
    ``page(session, local_ids, offset, limit)`` yields them in id order. ``terms``
    maps the type and attribute names to their IRIs for the served ``@context``
    (Smart Data Models IRIs where the model exists; a term left out expands to
    NGSI-LD's default vocabulary). Entities must carry only what the matching
    open dataset publishes (no person, no free text, positions rounded alike).
    """

    name: str
    count: Count
    page: Page
    terms: Mapping[str, str] = field(default_factory=dict)


_TYPES: dict[str, EntityType] = {}


def install(types: Iterable[EntityType]) -> None:
    _TYPES.clear()
    _TYPES.update({t.name: t for t in types})


def contributed() -> dict[str, EntityType]:
    """The entity types the domains contribute, by name."""
    return dict(_TYPES)
