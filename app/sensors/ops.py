"""Sensors in the operations centre: three layers — the waste centre and its queue, the border crossings
and their traffic, the other sensors with their current value (air quality, fill levels, solar sites,
buildings' meters, counting devices) —, a side panel with history for each, and the KPIs per commune
(air quality index, waiting time at the waste centre, solar production and passages counted today)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.sensors import scope
from app.models.measures import MeasureDaily
from app.models.sensors import Sensor, WasteCentreEstimate
from app.models.territory import Commune
from app.territories import zone as territory_zone
from app.sensors.ngsi_ld import SENSOR_TYPES, urn
from app.ops.contracts import Freshness, Kpi, Layer, Panel, Stamp, point
from app.sensors.air_quality import air_quality_index
from app.sensors.layers import FEATURE_KINDS, OWN_LAYERS

N_ = str
KIND_LABELS = {
    "waste_centre": N_("Déchèterie"),
    "traffic": N_("Passage frontalier"),
    "air_quality": N_("Qualité de l'air"),
    "fill_level": N_("Remplissage"),
    "solar": N_("Production solaire"),
    "water_meter": N_("Compteur d'eau"),
    "energy_meter": N_("Compteur d'énergie"),
    "counter": N_("Comptage"),
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
    "low": N_("Sous l'attendu"),
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
        scope.mine(session, select(col(Sensor.id)).where(col(Sensor.kind) == "waste_centre"))
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
    if sensor.kind in _READINGS:
        return _READINGS[sensor.kind](values)
    level = values.get("fillingLevel")
    if isinstance(level, int | float):
        return ("full" if level >= 0.8 else "ok"), round(level * 100), "%"
    return "ok", None, ""


def _number(values: dict[str, Any], name: str) -> float | None:
    value = values.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _solar(values: dict[str, Any]) -> tuple[str, Any, str]:
    power, expected = _number(values, "power_w"), _number(values, "expected_w")
    low = power is not None and expected is not None and expected > 0 and power < 0.8 * expected
    return ("low" if low else "ok"), None if power is None else round(power / 1000, 1), "kW"


def _water(values: dict[str, Any]) -> tuple[str, Any, str]:
    flow = _number(values, "flow")
    return "ok", None if flow is None else round(flow), "L/h"


def _energy(values: dict[str, Any]) -> tuple[str, Any, str]:
    power = _number(values, "power_w")
    return "ok", None if power is None else round(power / 1000, 1), "kW"


def _counts(values: dict[str, Any]) -> tuple[str, Any, str]:
    total = sum(v for k, v in values.items() if k != "ts" and isinstance(v, int | float))
    return "ok", int(total), _("passages")


_READINGS = {"solar": _solar, "water_meter": _water, "energy_meter": _energy, "counter": _counts}


def _today_rows(session: Session, kind: str, now: dt.datetime) -> list[tuple[str, Any, Any]]:
    """(commune, measure row's measure, row) of today's daily rows of every sensor of ``kind``."""
    communes = {
        urn(SENSOR_TYPES.get(kind, "Device"), sensor_id): insee
        for sensor_id, insee in session.execute(
            scope.mine(
                session,
                select(col(Sensor.id), col(Sensor.commune_insee)).where(col(Sensor.kind) == kind),
            )
        ).all()
        if insee
    }
    if not communes:
        return []
    rows = session.execute(
        sa.select(
            col(MeasureDaily.entity),
            col(MeasureDaily.measure),
            col(MeasureDaily.total),
            col(MeasureDaily.low),
            col(MeasureDaily.high),
        ).where(
            col(MeasureDaily.entity).in_(list(communes)),
            col(MeasureDaily.day) == now.astimezone(territory_zone(session)).date(),
        )
    ).all()
    return [(communes[r.entity], r.measure, r) for r in rows]


def solar_kpi(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Energy the solar sites of each commune produced today (kWh), from their counters."""
    out: dict[str, Any] = {}
    for insee, measure, row in _today_rows(session, "solar", now):
        if measure == "energy_wh" and row.low is not None and row.high is not None:
            out[insee] = round(out.get(insee, 0) + (row.high - row.low) / 1000, 1)
    return out


def counts_kpi(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Passages the counting devices of each commune counted today (every class and direction)."""
    out: dict[str, Any] = {}
    for insee, _measure, row in _today_rows(session, "counter", now):
        out[insee] = int(out.get(insee, 0) + (row.total or 0))
    return out


def _queues(session: Session) -> dict[str, int | None]:
    queues: dict[str, int | None] = {}
    for sensor_id in session.scalars(
        scope.mine(session, select(col(Sensor.id)).where(col(Sensor.kind) == "waste_centre"))
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
    for s in session.execute(scope.mine(session, query)).all():
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
    if sensor is None or scope.territory_id(session) not in (None, sensor.territory_id):
        return None  # (another territory's sensor is not found on this host)
    values = _values(sensor)
    state, value, unit = reading(sensor, values, _waits(session).get(sensor.id), now)
    commune = session.get(Commune, sensor.commune_insee) if sensor.commune_insee else None
    tz = territory_zone(session, sensor.territory_id)
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
    """The worst European air quality index band (1 good … 6) measured in each commune of the
    session's territory."""
    out: dict[str, Any] = {}
    for sensor in session.scalars(
        scope.mine(session, select(Sensor).where(col(Sensor.kind) == "air_quality"))
    ).all():
        index = air_quality_index(_values(sensor))
        if sensor.commune_insee and index:
            out[sensor.commune_insee] = max(out.get(sensor.commune_insee, 0), index[0])
    return out


# Sensors added or removed show even without an event.
sensors_stamp = Stamp((select(func.count(), func.max(col(Sensor.id))),))


def wait_kpi(session: Session, now: dt.datetime) -> dict[str, Any]:
    """The latest estimated wait at each waste centre of the session's territory, by commune."""
    waits = _waits(session)
    out: dict[str, Any] = {}
    for sensor in session.scalars(
        scope.mine(session, select(Sensor).where(col(Sensor.kind) == "waste_centre"))
    ).all():
        if sensor.commune_insee and waits.get(sensor.id) is not None:
            out[sensor.commune_insee] = round(waits[sensor.id] or 0)
    return out


_SENSOR_STATES = {k: STATES[k] for k in ("good", "fair", "poor", "full", "low", "ok", "offline")}
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
    Kpi(
        "solar_today",
        N_("Production solaire du jour"),
        "kWh",
        46,
        solar_kpi,
        Freshness(("sensors",), sensors_stamp),
    ),
    Kpi(
        "counts_today",
        N_("Passages comptés aujourd'hui"),
        "",
        47,
        counts_kpi,
        Freshness(("sensors",), sensors_stamp),
    ),
]
