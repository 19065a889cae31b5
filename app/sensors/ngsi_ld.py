"""NGSI-LD read API over lights, groups, cabinets and sensors, as FIWARE Smart Data Models entities.

Entities are built in the normalised form: ``id`` is a URN
(``urn:ngsi-ld:Streetlight:SL-AUD-0001``), properties are
``{"type": "Property", "value": ..., "observedAt": "...Z"}``, relationships
``{"type": "Relationship", "object": "urn:..."}``, locations
``{"type": "GeoProperty", "value": {GeoJSON}}``. The ``@context`` is Eclor's
own document (:data:`CONTEXT`), served from ``/ngsi-ld/v1/context.jsonld``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from app import ngsi
from app.models.lighting import LightCabinet, LightGroup, LightOverride, Streetlight
from app.models.sensors import Sensor
from app.ngsi import (
    SDM,
    datetime_prop,
    geo,
    model_id,
    prop,
    rel,
    time_text,
    urn,
)

CONTEXT_PATH = "/ngsi-ld/v1/context.jsonld"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
TYPES = (
    "Streetlight",
    "StreetlightGroup",
    "StreetlightControlCabinet",
    "TrafficFlowObserved",
    "AirQualityObserved",
    "WasteContainer",
    "PhotovoltaicMeasurement",
    "WaterConsumptionObserved",
    "ItemFlowObserved",
)
SENSOR_TYPES = {
    "traffic": "TrafficFlowObserved",
    "air_quality": "AirQualityObserved",
    "fill_level": "WasteContainer",
    "solar": "PhotovoltaicMeasurement",
    "water_meter": "WaterConsumptionObserved",
    "counter": "ItemFlowObserved",
}
KIND_OF_TYPE = {v: k for k, v in SENSOR_TYPES.items()}
_MODEL = {
    "Streetlight": "dataModel.Streetlighting",
    "StreetlightGroup": "dataModel.Streetlighting",
    "StreetlightControlCabinet": "dataModel.Streetlighting",
    "TrafficFlowObserved": "dataModel.Transportation",
    "AirQualityObserved": "dataModel.Environment",
    "WasteContainer": "dataModel.WasteManagement",
    "PhotovoltaicMeasurement": "dataModel.GreenEnergy",
    "WaterConsumptionObserved": "dataModel.WaterConsumption",
    "ItemFlowObserved": "dataModel.Transportation",
}
_ATTRS = {
    "Streetlight": (
        "status",
        "powerState",
        "illuminanceLevel",
        "dateLastSwitchingOn",
        "dateLastSwitchingOff",
        "controllingMethod",
        "refStreetlightGroup",
        "refStreetlightControlCabinet",
        "refStreetlightModel",
        "powerRating",
        "powerConsumption",
    ),
    "StreetlightGroup": (
        "powerState",
        "illuminanceLevel",
        "activeProgramId",
        "switchingMode",
        "refStreetlight",
        "refStreetlightControlCabinet",
    ),
    "StreetlightControlCabinet": (
        "workingMode",
        "energyConsumed",
        "totalActivePower",
        "refStreetlightGroup",
    ),
    "TrafficFlowObserved": (
        "dateObserved",
        "intensity",
        "occupancy",
        "averageVehicleSpeed",
        "congested",
        "laneDirection",
    ),
    "AirQualityObserved": (
        "dateObserved",
        "no2",
        "pm10",
        "pm25",
        "o3",
        "airQualityIndex",
        "airQualityLevel",
    ),
    "WasteContainer": ("fillingLevel", "status", "storedWasteKind"),
    "PhotovoltaicMeasurement": (
        "refPhotovoltaicDevice",
        "dateEnergyMeteringStarted",
        "temperature",
        "nominalPeakPowerGeneration",
        "activePower",
    ),
    "WaterConsumptionObserved": ("waterConsumption",),
    "ItemFlowObserved": (
        "dateObservedFrom",
        "dateObservedTo",
        "itemType",
        "laneId",
        "laneDirection",
        "intensity",
    ),
}
COMMON_TERMS = {
    "name": f"{SDM}name",
    "address": f"{SDM}address",
    "dateObserved": f"{SDM}dateObserved",
    "status": "https://uri.etsi.org/ngsi-ld/status",
    "location": "https://uri.etsi.org/ngsi-ld/location",
}
CONTEXT: dict[str, Any] = {
    "@context": [
        {
            **{name: f"{SDM}{_MODEL[name]}/{name}" for name in TYPES},
            **{attr: f"{SDM}{_MODEL[t]}/{attr}" for t, attrs in _ATTRS.items() for attr in attrs},
            # Terms every Smart Data Models context shares (their own IRIs, whatever the model):
            **COMMON_TERMS,
        },
        CORE_CONTEXT,
    ]
}


def context() -> dict[str, Any]:
    """The served ``@context``: the lights' and sensors' terms, then those of the contributed types."""
    own = dict(CONTEXT["@context"][0])
    for entity_type in ngsi.contributed().values():
        own.update({k: v for k, v in entity_type.terms.items() if k not in own})
    return {"@context": [own, CORE_CONTEXT]}


def all_types() -> tuple[str, ...]:
    """Every entity type served: the lights' and sensors' own, then the contributed ones."""
    return TYPES + tuple(t for t in ngsi.contributed() if t not in TYPES)


_prop = prop
_datetime_prop = datetime_prop
_rel = rel
_geo = geo
_time = time_text


def _power_state(level: int | None) -> str | None:
    if level is None:
        return None
    return "off" if level == 0 else ("on" if level >= 100 else "low")


def streetlight(light: Streetlight) -> dict[str, Any]:
    seen = light.last_seen_at
    entity: dict[str, Any] = {
        "id": urn("Streetlight", light.id),
        "type": "Streetlight",
        "location": _geo(light.lat, light.lon),
        "status": _prop(light.status, seen),
        "powerState": _prop(_power_state(light.actual_level), seen)
        if light.actual_level is not None
        else None,
        "illuminanceLevel": _prop(round(light.actual_level / 100, 2), seen)
        if light.actual_level is not None
        else None,
        "dateLastSwitchingOn": _datetime_prop(light.last_switch_on_at),
        "dateLastSwitchingOff": _datetime_prop(light.last_switch_off_at),
        "controllingMethod": _prop("group" if light.group_id else "individual"),
        "refStreetlightGroup": _rel(urn("StreetlightGroup", light.group_id))
        if light.group_id
        else None,
        "refStreetlightControlCabinet": _rel(urn("StreetlightControlCabinet", light.cabinet_id))
        if light.cabinet_id
        else None,
        "refStreetlightModel": _rel(urn("StreetlightModel", model_id(light))),
        "powerRating": _prop(light.nominal_w, unit="WTT"),
        "powerConsumption": _prop(light.power_w, seen, "WTT")
        if light.power_w is not None
        else None,
        "address": _prop({"streetAddress": light.street, "addressCountry": "FR"})
        if light.street
        else None,
    }
    return {k: v for k, v in entity.items() if v is not None}


def _group_entities(session: Session, groups: list[LightGroup]) -> Iterator[dict[str, Any]]:
    """Group entities for a page of groups: their lights and overrides read in one query each."""
    ids = [g.id for g in groups]
    lights: dict[str, list[Any]] = {gid: [] for gid in ids}
    for part in _chunks(ids):
        for row in session.execute(
            sa.select(
                col(Streetlight.group_id),
                col(Streetlight.id),
                col(Streetlight.lat),
                col(Streetlight.lon),
                col(Streetlight.actual_level),
            )
            .where(col(Streetlight.group_id).in_(part))
            .order_by(col(Streetlight.group_id), col(Streetlight.id))
        ).all():
            lights[row.group_id].append(row)
    manual = set()
    for part in _chunks(ids):
        manual |= set(
            session.scalars(
                select(col(LightOverride.target_id)).where(
                    col(LightOverride.state) == "active",
                    col(LightOverride.scope) == "group",
                    col(LightOverride.target_id).in_(part),
                )
            ).all()
        )
    for group in groups:
        yield _group_entity(group, lights[group.id], group.id in manual)


def _switching_mode(mean: float | None, manual: bool) -> list[str]:
    """Smart Data Models' ``switchingMode`` of a group: held by hand at its level, else its program's
    night-on / day-off switching (with night-LOW when dimmed now)."""
    if manual and mean is not None:
        if mean == 0:
            return ["night-OFF", "day-OFF"]
        return ["always-ON"] if mean >= 1 else ["night-LOW", "day-LOW"]
    return (
        ["night-ON", "night-LOW", "day-OFF"]
        if mean is not None and 0 < mean < 1
        else ["night-ON", "day-OFF"]
    )


# Smart Data Models WasteContainer enumerations.
WASTE_KINDS = (
    "organic",
    "inorganic",
    "glass",
    "oil",
    "plastic",
    "metal",
    "paper",
    "batteries",
    "electronics",
    "hazardous",
    "other",
)
CONTAINER_STATUSES = ("ok", "lidOpen", "dropped", "moved", "vandalized", "burning", "unknown")


def _container_status(sensor: Sensor, values: dict[str, Any]) -> str:
    """The container's status as its sensor last said it; ``unknown`` while the sensor is offline or silent."""
    if sensor.offline or sensor.last_seen_at is None:
        return "unknown"
    reported = values.get("status")
    return reported if reported in CONTAINER_STATUSES else "ok"


def _group_entity(group: LightGroup, rows: list[Any], manual: bool) -> dict[str, Any]:
    levels = [r.actual_level for r in rows if r.actual_level is not None]
    mean = round(sum(levels) / len(levels) / 100, 2) if levels else None
    lat = sum(r.lat for r in rows) / len(rows) if rows else None
    lon = sum(r.lon for r in rows) / len(rows) if rows else None
    program = (
        group.calendar_id
        and f"calendar-{group.calendar_id}"
        or (group.program_id and f"program-{group.program_id}")
    )
    entity: dict[str, Any] = {
        "id": urn("StreetlightGroup", group.id),
        "type": "StreetlightGroup",
        "name": _prop(group.name),
        "location": _geo(lat, lon),
        "powerState": _prop("off" if mean == 0 else ("on" if mean == 1 else "low"))
        if mean is not None
        else None,
        "illuminanceLevel": _prop(mean) if mean is not None else None,
        "activeProgramId": _prop(program) if program else None,
        "switchingMode": _prop(_switching_mode(mean, manual)),
        "refStreetlight": _rel([urn("Streetlight", r.id) for r in rows]) if rows else None,
        "refStreetlightControlCabinet": _rel(urn("StreetlightControlCabinet", group.cabinet_id))
        if group.cabinet_id
        else None,
    }
    return {k: v for k, v in entity.items() if v is not None}


def _cabinet_entities(session: Session, cabinets: list[LightCabinet]) -> Iterator[dict[str, Any]]:
    """Cabinet entities for a page of cabinets: one grouped sum over their lights, one read of their groups."""
    ids = [c.id for c in cabinets]
    sums: dict[str, tuple[float, float]] = {}
    groups: dict[str, list[str]] = {cid: [] for cid in ids}
    for part in _chunks(ids):
        for cabinet_id, energy, power in session.execute(
            select(
                col(Streetlight.cabinet_id),
                func.sum(col(Streetlight.energy_wh)),
                func.sum(col(Streetlight.power_w)),
            )
            .where(col(Streetlight.cabinet_id).in_(part))
            .group_by(col(Streetlight.cabinet_id))
        ).all():
            sums[cabinet_id] = (energy or 0, power or 0)
        for cabinet_id, group_id in session.execute(
            select(col(LightGroup.cabinet_id), col(LightGroup.id))
            .where(col(LightGroup.cabinet_id).in_(part))
            .order_by(col(LightGroup.cabinet_id), col(LightGroup.id))
        ).all():
            groups[cabinet_id].append(group_id)
    for cabinet in cabinets:
        energy, power = sums.get(cabinet.id, (0, 0))
        entity: dict[str, Any] = {
            "id": urn("StreetlightControlCabinet", cabinet.id),
            "type": "StreetlightControlCabinet",
            "name": _prop(cabinet.name),
            "location": _geo(cabinet.lat, cabinet.lon),
            "workingMode": _prop(cabinet.working_mode),
            "energyConsumed": _prop(round(energy / 1000, 3), unit="KWH"),
            "totalActivePower": _prop(round(power / 1000, 3), unit="KWT"),
            "refStreetlightGroup": _rel([urn("StreetlightGroup", g) for g in groups[cabinet.id]])
            if groups[cabinet.id]
            else None,
        }
        yield {k: v for k, v in entity.items() if v is not None}


def _chunks(ids: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _sensor_entity(sensor: Sensor) -> dict[str, Any]:
    from app.sensors.air_quality import air_quality_index

    entity_type = SENSOR_TYPES[sensor.kind]
    values = json.loads(sensor.last_values or "{}")
    meta = json.loads(sensor.meta or "{}")
    seen = sensor.last_seen_at
    entity: dict[str, Any] = {
        "id": urn(entity_type, sensor.id),
        "type": entity_type,
        "name": _prop(sensor.name),
        "location": _geo(sensor.lat, sensor.lon),
    }
    if entity_type == "TrafficFlowObserved":
        entity.update(
            {
                "dateObserved": _datetime_prop(seen),
                "intensity": _prop(values.get("intensity"), seen)
                if "intensity" in values
                else None,
                "occupancy": _prop(values.get("occupancy"), seen)
                if "occupancy" in values
                else None,
                "averageVehicleSpeed": _prop(values.get("averageVehicleSpeed"), seen, "KMH")
                if "averageVehicleSpeed" in values
                else None,
                "congested": _prop(bool(values.get("congested")), seen)
                if "congested" in values
                else None,
                "laneDirection": _prop(meta.get("laneDirection", "forward")),
            }
        )
    elif entity_type == "AirQualityObserved":
        entity["dateObserved"] = _datetime_prop(seen)
        for name in ("no2", "pm10", "pm25", "o3"):
            if name in values:
                entity[name] = _prop(values[name], seen, "GQ")
        index = air_quality_index(values)
        if index:
            entity["airQualityIndex"] = _prop(index[0], seen)
            entity["airQualityLevel"] = _prop(index[1], seen)
    elif entity_type in _OBSERVED:
        entity.update(_OBSERVED[entity_type](sensor, values, meta))
    else:
        entity.update(
            {
                "fillingLevel": _prop(values.get("fillingLevel"), seen)
                if "fillingLevel" in values
                else None,
                "status": _prop(_container_status(sensor, values), seen),
                "storedWasteKind": _prop(
                    kind if (kind := meta.get("storedWasteKind")) in WASTE_KINDS else "other"
                ),
            }
        )
    return {k: v for k, v in entity.items() if v is not None}


def _photovoltaic(sensor: Sensor, values: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """A solar site's latest reading as ``PhotovoltaicMeasurement`` (its device: the site itself)."""
    seen = sensor.last_seen_at
    started = meta.get("metering_started")
    return {
        "dateObserved": _datetime_prop(seen),
        "refPhotovoltaicDevice": _rel(urn("PhotovoltaicDevice", sensor.id)),
        "dateEnergyMeteringStarted": _prop(started) if isinstance(started, str) else None,
        "temperature": _prop(values["temperature"], seen, "CEL")
        if isinstance(values.get("temperature"), int | float)
        else None,
        "nominalPeakPowerGeneration": _prop(float(meta["peak_kw"]), unit="KWT")
        if isinstance(meta.get("peak_kw"), int | float)
        else None,
        "activePower": _prop(round(values["power_w"] / 1000, 3), seen, "KWT")
        if isinstance(values.get("power_w"), int | float)
        else None,
    }


def _water(sensor: Sensor, values: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """A building's water meter as ``WaterConsumptionObserved``: its index (litres)."""
    seen = sensor.last_seen_at
    return {
        "waterConsumption": _prop(int(values["volume_l"]), seen, "LTR")
        if isinstance(values.get("volume_l"), int | float)
        else None,
    }


def _item_flow(sensor: Sensor, values: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """A counting device's last period as ``ItemFlowObserved``: every class and direction counted."""
    seen = sensor.last_seen_at
    classes = meta.get("classes") or ["pedestrian", "bike", "car", "truck"]
    counted = [v for k, v in values.items() if k != "ts" and isinstance(v, int | float)]
    return {
        "dateObserved": _datetime_prop(seen),
        "dateObservedFrom": _prop(time_text(seen - dt.timedelta(seconds=sensor.reporting_period_s)))
        if seen
        else None,
        "dateObservedTo": _prop(time_text(seen)) if seen else None,
        "itemType": _prop("people" if classes == ["pedestrian"] else "vehicle"),
        "laneId": _prop(int(meta.get("laneId", 1))),
        "laneDirection": _prop(meta.get("laneDirection", "forward")),
        "intensity": _prop(sum(counted), seen) if counted else None,
    }


_OBSERVED = {
    "PhotovoltaicMeasurement": _photovoltaic,
    "WaterConsumptionObserved": _water,
    "ItemFlowObserved": _item_flow,
}


def simplified(entity: dict[str, Any]) -> dict[str, Any]:
    """The simplified (keyValues) form: each attribute's value, object or language map."""

    def value(v: Any) -> Any:
        if isinstance(v, list):
            return [value(item) for item in v]
        if not isinstance(v, dict) or "type" not in v:
            return v
        for key in ("value", "object", "languageMap"):
            if key in v:
                return v[key]
        return v

    return {k: (v if k in ("id", "type", "@context") else value(v)) for k, v in entity.items()}


def term_of(name: str) -> str:
    """A type or attribute name as served: a full IRI becomes the served term it expands from."""
    if "://" not in name and not name.startswith("urn:"):
        return name
    for term, iri in context()["@context"][0].items():
        if iri == name:
            return term
    default = "https://uri.etsi.org/ngsi-ld/default-context/"
    return name[len(default) :] if name.startswith(default) else name


_MODELS: dict[str, Any] = {
    "Streetlight": Streetlight,
    "StreetlightGroup": LightGroup,
    "StreetlightControlCabinet": LightCabinet,
}


def _select(session: Session, entity_type: str, ids: list[str] | None, what: Any = None) -> Any:
    """The entities of a type: of the session's territory only (``app.ngsi.territory_of``)."""
    model = _MODELS.get(entity_type, Sensor)
    query = select(what).select_from(model) if what is not None else select(model)
    territory_id = ngsi.territory_of(session)
    if territory_id is not None:
        query = query.where(model.territory_id == territory_id)
    if model is Sensor:
        query = query.where(col(Sensor.kind) == KIND_OF_TYPE[entity_type])
    if ids is not None:
        query = query.where(model.id.in_(ids))
    return query


def count_of(session: Session, entity_type: str, ids: list[str] | None) -> int:
    """How many entities of a type (an SQL count, never the entities themselves)."""
    other = ngsi.contributed().get(entity_type) if entity_type not in TYPES else None
    if other is not None:
        return other.count(session, ids)
    return int(session.scalar(_select(session, entity_type, ids, func.count())) or 0)


def entities_of(
    session: Session,
    entity_type: str,
    ids: list[str] | None,
    *,
    offset: int = 0,
    limit: int | None = None,
    where: Sequence[Any] = (),
) -> Iterator[dict[str, Any]]:
    """The entities of a type in id order, from ``offset``, at most ``limit`` (read in pages of 1,000).

    ``where``: SQL conditions on the type's table that every wanted entity meets (a prefilter
    of the lights' and sensors' own types; the caller still checks each entity)."""
    other = ngsi.contributed().get(entity_type) if entity_type not in TYPES else None
    if other is not None:
        yield from other.page(session, ids, offset, limit if limit is not None else 10**12)
        return
    model = _MODELS.get(entity_type, Sensor)
    remaining = limit if limit is not None else 10**12
    position = offset
    while remaining > 0:
        size = min(1000, remaining)
        batch = list(
            session.scalars(
                _select(session, entity_type, ids)
                .where(*where)
                .order_by(model.id)
                .offset(position)
                .limit(size)
            ).all()
        )
        if entity_type == "Streetlight":
            yield from (streetlight(light) for light in batch)
        elif entity_type == "StreetlightGroup":
            yield from _group_entities(session, batch)
        elif entity_type == "StreetlightControlCabinet":
            yield from _cabinet_entities(session, batch)
        else:
            yield from (_sensor_entity(sensor) for sensor in batch)
        if len(batch) < size:
            return
        position += size
        remaining -= size
