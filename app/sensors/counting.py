"""Counting devices: the public register and their counts (pedestrians, bikes, cars, trucks).

A counting device (a sensor of kind ``counter``, Telraam or OpenDataCam style) counts on the device
and sends only counts: per class and direction, for the last period (15 minutes). The ingestion
keeps those numbers and nothing else it may send (``measures._clean``): no image, no plate, no
trace is ever stored. Its ``meta`` says where it is (``place``), what it counts (``classes``), who
runs it (``operator``), how (``technology``), what each direction means (``directions``) and its
privacy statement (``privacy``; a default one states the rule every device here follows).

The register (``/counting``) lists every device with these facts, as the CNIL asks of camera
analysis in public space: anonymous statistics only, with no immediate operational use.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.models.measures import MeasureDaily
from app.sensors import scope
from app.models.sensors import Sensor
from app.models.territory import Commune
from app.sensors.ngsi_ld import SENSOR_TYPES, urn
from app.territories import zone as territory_zone

N_ = str
CLASSES = {
    "pedestrian": N_("Piétons"),
    "bike": N_("Vélos"),
    "car": N_("Voitures"),
    "truck": N_("Camions"),
}
DEFAULT_PRIVACY = N_(
    "Le comptage se fait dans l'appareil : aucune image ne le quitte et aucune n'est "
    "enregistrée. Seuls des nombres de passages par quart d'heure, par catégorie et par sens, "
    "sont transmis et publiés."
)
PERIOD_S = 900


@dataclass(frozen=True)
class Entry:
    """A counting device as the register shows it."""

    sensor: Sensor
    commune: str
    place: str
    classes: list[str]
    operator: str
    technology: str
    directions: dict[str, str]
    privacy: str
    today: dict[str, int]  # class -> passages counted today (UTC day), both directions


def _meta(sensor: Sensor) -> dict[str, Any]:
    try:
        meta = json.loads(sensor.meta or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def entity_of(sensor_id: str) -> str:
    return urn(SENSOR_TYPES.get("counter", "Device"), sensor_id)


def _today(session: Session, sensor_ids: list[str], day: dt.date) -> dict[str, dict[str, int]]:
    entities = {entity_of(s): s for s in sensor_ids}
    out: dict[str, dict[str, int]] = {s: {} for s in sensor_ids}
    if not entities:
        return out
    for entity, measure, total in session.execute(
        select(col(MeasureDaily.entity), col(MeasureDaily.measure), col(MeasureDaily.total)).where(
            col(MeasureDaily.entity).in_(list(entities)), col(MeasureDaily.day) == day
        )
    ).all():
        kind = measure.rsplit("_", 1)[0]
        if kind in CLASSES:
            counts = out[entities[entity]]
            counts[kind] = counts.get(kind, 0) + int(total)
    return out


def register(session: Session, now: dt.datetime) -> list[Entry]:
    """Every counting device, in id order, with what the public should know of it."""
    sensors = list(
        session.scalars(
            scope.mine(session, select(Sensor).where(col(Sensor.kind) == "counter")).order_by(
                col(Sensor.id)
            )
        ).all()
    )
    communes = {c.insee: c.name for c in session.scalars(select(Commune)).all()}
    today = _today(session, [s.id for s in sensors], now.astimezone(territory_zone(session)).date())
    out = []
    for sensor in sensors:
        meta = _meta(sensor)
        classes = [c for c in meta.get("classes", list(CLASSES)) if c in CLASSES]
        directions = meta.get("directions")
        out.append(
            Entry(
                sensor=sensor,
                commune=communes.get(sensor.commune_insee or "", ""),
                place=str(meta.get("place") or ""),
                classes=classes or list(CLASSES),
                operator=str(meta.get("operator") or _("La collectivité")),
                technology=str(meta.get("technology") or ""),
                directions={str(k): str(v) for k, v in directions.items() if k in ("in", "out")}
                if isinstance(directions, dict)
                else {},
                privacy=str(meta.get("privacy") or _(DEFAULT_PRIVACY)),
                today=today.get(sensor.id, {}),
            )
        )
    return out
