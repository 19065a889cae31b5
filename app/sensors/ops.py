"""Sensors in the operations centre: three layers — the waste centre and its queue, the border crossings
and their traffic, the other sensors with their current value (air quality, fill levels) —, a side
panel with history for each, and the KPIs per commune (air quality index, waiting time at the waste
centre)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.models.sensors import Sensor, WasteCentreEstimate
from app.models.territory import Commune, Territory
from app.sensors.ngsi_ld import SENSOR_TYPES, urn
from app.ops.contracts import Freshness, Kpi, Layer, Panel, point
from app.sensors.air_quality import air_quality_index
from app.sensors.layers import FEATURE_KINDS, OWN_LAYERS

N_ = str
KIND_LABELS = {
    "waste_centre": N_("Déchèterie"),
    "traffic": N_("Passage frontalier"),
    "air_quality": N_("Qualité de l'air"),
    "fill_level": N_("Remplissage"),
}
STATES = {
    "good": N_("Bon"),
    "fair": N_("Moyen"),
    "poor": N_("Dégradé"),
    "fluid": N_("Fluide"),
    "dense": N_("Dense"),
    "congested": N_("Saturé"),
    "short": N_("Attente courte"),
    "long": N_("Attente longue"),
    "full": N_("Plein"),
    "ok": N_("Normal"),
    "offline": N_("Hors ligne"),
}


def _values(sensor: Any) -> dict[str, Any]:
    try:
        values = json.loads(sensor.last_values or "{}")
    except ValueError:
        return {}
    return values if isinstance(values, dict) else {}


def _waits(session: Session) -> dict[str, float | None]:
    """The latest estimate of each waste centre: one index read per centre (never the whole history)."""
    waits: dict[str, float | None] = {}
    for sensor_id in session.scalars(
        select(col(Sensor.id)).where(col(Sensor.kind) == "waste_centre")
    ).all():
        row = session.execute(
            select(col(WasteCentreEstimate.wait_min))
            .where(col(WasteCentreEstimate.sensor_id) == sensor_id)
            .order_by(col(WasteCentreEstimate.ts).desc())
            .limit(1)
        ).first()
        if row is not None:
            waits[sensor_id] = row[0]
    return waits


def reading(
    sensor: Any, values: dict[str, Any], wait: float | None, now: dt.datetime
) -> tuple[str, Any, str]:
    """(state, value, unit) of a sensor's current reading."""
    stale = sensor.last_seen_at is None or sensor.last_seen_at < now - dt.timedelta(
        seconds=sensor.reporting_period_s * 3
    )
    if sensor.offline or stale:
        return "offline", None, ""
    if sensor.kind == "air_quality":
        index = air_quality_index(values)
        band = index[0] if index else 1
        return ("good" if band <= 2 else "fair" if band <= 3 else "poor"), band, "IQA"
    if sensor.kind == "traffic":
        occupancy = values.get("occupancy")
        state = (
            "congested"
            if values.get("congested")
            else ("dense" if isinstance(occupancy, int | float) and occupancy >= 0.25 else "fluid")
        )
        return state, values.get("intensity"), _("véhicules")
    if sensor.kind == "waste_centre":
        return (
            ("long" if (wait or 0) >= 10 else "short"),
            None if wait is None else round(wait),
            "min",
        )
    level = values.get("fillingLevel")
    if isinstance(level, int | float):
        return ("full" if level >= 0.8 else "ok"), round(level * 100), "%"
    return "ok", None, ""


def _queues(session: Session) -> dict[str, int | None]:
    queues: dict[str, int | None] = {}
    for sensor_id in session.scalars(
        select(col(Sensor.id)).where(col(Sensor.kind) == "waste_centre")
    ).all():
        row = session.execute(
            select(col(WasteCentreEstimate.queue))
            .where(col(WasteCentreEstimate.sensor_id) == sensor_id)
            .order_by(col(WasteCentreEstimate.ts).desc())
            .limit(1)
        ).first()
        if row is not None:
            queues[sensor_id] = row[0]
    return queues


def _features(session: Session, now: dt.datetime, layer: str) -> list[dict[str, Any]]:
    waits = _waits(session)
    queues = _queues(session) if layer == "waste_centre" else {}
    query = sa.select(
        col(Sensor.id),
        col(Sensor.kind),
        col(Sensor.name),
        col(Sensor.lon),
        col(Sensor.lat),
        col(Sensor.offline),
        col(Sensor.last_seen_at),
        col(Sensor.reporting_period_s),
        col(Sensor.last_values),
        col(Sensor.commune_insee),
    ).order_by(col(Sensor.id))
    own = [kind for kind, name in OWN_LAYERS.items() if name == layer]
    query = (
        query.where(col(Sensor.kind).in_(own))
        if own
        else query.where(col(Sensor.kind).not_in(list(OWN_LAYERS)))
    )
    out = []
    for s in session.execute(query).all():
        if s.lat is None or s.lon is None:
            continue
        values = _values(s)
        state, value, unit = reading(s, values, waits.get(s.id), now)
        extra: dict[str, Any] = {}
        if s.kind == "waste_centre":
            extra["queue"] = None if state == "offline" else queues.get(s.id)
        elif s.kind == "traffic" and state != "offline":
            extra["occupancy"] = values.get("occupancy")
            extra["speed"] = values.get("averageVehicleSpeed")
        out.append(
            point(
                s.id,
                s.lon,
                s.lat,
                kind=FEATURE_KINDS.get(s.kind, "sensor"),
                state=state,
                label=s.name,
                url=f"/staff/ops?open={layer}/{s.id}",
                device_id=s.id,
                sensor=s.kind,
                value=value,
                unit=unit,
                commune=s.commune_insee,
                **extra,
            )
        )
    return out


def sensors_layer(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    return _features(session, now, "sensors")


def waste_centre_layer(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    return _features(session, now, "waste_centre")


def crossings_layer(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    return _features(session, now, "crossings")


def sensor_panel(session: Session, feature_id: str, now: dt.datetime) -> Panel | None:
    sensor = session.get(Sensor, feature_id)
    if sensor is None:
        return None
    values = _values(sensor)
    state, value, unit = reading(sensor, values, _waits(session).get(sensor.id), now)
    commune = session.get(Commune, sensor.commune_insee) if sensor.commune_insee else None
    territory = session.scalars(select(Territory).order_by(col(Territory.id))).first()
    tz = ZoneInfo(territory.timezone if territory else "Europe/Paris")
    facts = [
        (_("Type"), _(KIND_LABELS.get(sensor.kind, sensor.kind))),
        (_("Commune"), commune.name if commune else "—"),
        (_("Valeur actuelle"), "—" if value is None else f"{value} {unit}".strip()),
        (
            _("Dernières nouvelles"),
            sensor.last_seen_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
            if sensor.last_seen_at
            else "—",
        ),
    ]
    facts += [(name, str(v)) for name, v in values.items() if name != "ts"]
    return Panel(
        title=sensor.name,
        state=state,
        state_label=_(STATES[state]),
        facts=facts,
        history=urn(SENSOR_TYPES.get(sensor.kind, "Device"), sensor.id),
        link="/waste-centre" if sensor.kind == "waste_centre" else None,
        commune=sensor.commune_insee,
    )


def air_kpi(session: Session, now: dt.datetime) -> dict[str, Any]:
    """The worst European air quality index band (1 good … 6) measured in each commune."""
    out: dict[str, Any] = {}
    for sensor in session.scalars(select(Sensor).where(col(Sensor.kind) == "air_quality")).all():
        index = air_quality_index(_values(sensor))
        if sensor.commune_insee and index:
            out[sensor.commune_insee] = max(out.get(sensor.commune_insee, 0), index[0])
    return out


def sensors_stamp(session: Session) -> tuple[Any, ...]:
    """Sensors added or removed show even without an event."""
    return tuple(session.execute(select(func.count(), func.max(col(Sensor.id)))).one())


def wait_kpi(session: Session, now: dt.datetime) -> dict[str, Any]:
    waits = _waits(session)
    out: dict[str, Any] = {}
    for sensor in session.scalars(select(Sensor).where(col(Sensor.kind) == "waste_centre")).all():
        if sensor.commune_insee and waits.get(sensor.id) is not None:
            out[sensor.commune_insee] = round(waits[sensor.id] or 0)
    return out


_SENSOR_STATES = {k: STATES[k] for k in ("good", "fair", "poor", "full", "ok", "offline")}
OPS_LAYERS = [
    Layer("sensors", N_("Capteurs"), 30, sensors_layer, sensor_panel, {}, _SENSOR_STATES),
    Layer(
        "waste_centre",
        N_("Déchèterie et file d'attente"),
        32,
        waste_centre_layer,
        sensor_panel,
        {},
        {k: STATES[k] for k in ("short", "long", "offline")},
    ),
    Layer(
        "crossings",
        N_("Passages frontaliers et trafic"),
        34,
        crossings_layer,
        sensor_panel,
        {},
        {k: STATES[k] for k in ("fluid", "dense", "congested", "offline")},
    ),
]
OPS_KPIS = [
    Kpi(
        "air_quality",
        N_("Qualité de l'air (indice européen)"),
        "",
        40,
        air_kpi,
        Freshness(("sensors",), sensors_stamp),  # readings publish "sensors" events
    ),
    Kpi("waste_wait", N_("Attente à la déchèterie"), "min", 45, wait_kpi),
]
