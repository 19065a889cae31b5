"""Public lighting in the operations centre: the lights, cabinets and open alarms layers, their side
panels (state, history, dim a light or its group) and the lighting KPIs per commune."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import case, func
from sqlmodel import Session, col, select

from app.db import chunks, table_of
from app.i18n import gettext as _
from app.lighting import energy as lighting_energy
from app.lighting.control import MAX_OVERRIDE_MINUTES, light_state, territory_position
from app.models.lighting import LightAlarm, LightCabinet, LightEnergyMonth, LightGroup, Streetlight
from app.models.sensors import Sensor
from app.models.territory import Commune
from app.ngsi import urn
from app.territories import bound
from app.ops.contracts import (
    Action,
    FeatureText,
    Field_,
    Freshness,
    Kpi,
    Layer,
    Panel,
    Stamp,
    in_communes,
    mine,
    point,
    point_texts,
    points_json,
    territory_key,
)

N_ = str

LIGHT_STATES = {
    "on": N_("Allumé"),
    "dimmed": N_("Abaissé"),
    "off": N_("Éteint"),
    "fault": N_("En panne"),
    "offline": N_("Hors ligne"),
    "unknown": N_("Sans nouvelles"),
}
STATUS_WORDS = {
    "ok": N_("Fonctionne"),
    "offline": N_("Hors ligne"),
    "defectiveLamp": N_("Lampe défectueuse"),
    "columnIssue": N_("Problème de mât"),
    "brokenLantern": N_("Lanterne cassée"),
    "lampFailure": N_("Panne de lampe"),
    "supplyLoss": N_("Perte d'alimentation"),
}
CABINET_STATES = {"ok": N_("Normal"), "fault": N_("Points en panne")}
ALARM_STATES = {"open": N_("Ouverte"), "acknowledged": N_("Prise en compte")}


def status_words(code: str | None) -> str:
    """A device status code in words (unknown codes are shown as they are)."""
    return _(STATUS_WORDS[code]) if code in STATUS_WORDS else (code or "—")


def lights_layer(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    rows = session.execute(
        sa.select(
            col(Streetlight.id),
            col(Streetlight.device_id),
            col(Streetlight.lon),
            col(Streetlight.lat),
            col(Streetlight.actual_level),
            col(Streetlight.status),
            col(Streetlight.offline),
            col(Streetlight.group_id),
        )
        .where(mine(session, col(Streetlight.territory_id)))
        .order_by(col(Streetlight.id))
    ).all()
    return [
        point(
            r.id,
            r.lon,
            r.lat,
            kind="light",
            state=light_state(r.actual_level, r.status, r.offline),
            label=r.id,
            url=f"/staff/lighting/lights/{r.id}",
            device_id=r.device_id,
            level=r.actual_level,
            group=r.group_id,
        )
        for r in rows
    ]


_LIGHT_COLUMNS = (
    "SELECT id, device_id, lon, lat, actual_level, status, offline, group_id FROM streetlights"
)


def _every_light(session: Session) -> list[Any]:
    """Every light's row of the layer: of the territory bound to the session (the index on
    (territory_id, id)), of the whole install when none is."""
    territory = territory_key(session)
    sql = _LIGHT_COLUMNS if not territory else _LIGHT_COLUMNS + " WHERE territory_id = :territory"
    return list(
        session.connection().execute(sa.text(sql), {"territory": territory} if territory else {})
    )


def _light_rows(rows: Iterable[Sequence[Any]]) -> Iterable[tuple[Any, ...]]:
    for r in rows:
        yield (
            r[0],
            r[2],
            r[3],
            "light",
            light_state(r[4], r[5], bool(r[6])),
            r[0],
            f"/staff/lighting/lights/{r[0]}",
            r[1],
            r[4],
            r[7],
        )


_LIGHT_KEYS = ("device_id", "level", "group")


def lights_json(session: Session, now: dt.datetime) -> bytes:
    """The lights layer written straight to GeoJSON text (20,000 lights and more)."""
    # by id in code points, whatever the database's collation
    rows = sorted(_every_light(session), key=lambda r: str(r[0]))
    return points_json("lights", _light_rows(rows), _LIGHT_KEYS)


def lights_features(
    session: Session, now: dt.datetime, ids: Sequence[str] | None
) -> Iterable[FeatureText]:
    """The lights of ``ids`` (all when None) as feature text, for the layer kept by ids."""
    if ids is None:
        parts: Iterable[Sequence[Any]] = [_every_light(session)]
    else:
        lights = table_of(Streetlight)
        parts = [
            session.connection()
            .execute(
                sa.select(
                    lights.c.id,
                    lights.c.device_id,
                    lights.c.lon,
                    lights.c.lat,
                    lights.c.actual_level,
                    lights.c.status,
                    lights.c.offline,
                    lights.c.group_id,
                ).where(lights.c.id.in_(part), mine(session, lights.c.territory_id))
            )
            .all()
            for part in chunks(list(ids))
        ]
    for rows in parts:
        for row, text in zip(rows, point_texts(_light_rows(rows), _LIGHT_KEYS), strict=True):
            yield row[0], row[0], text


# Lights added or removed show even without an event (the demo's bulk insert).
lights_count = Stamp((select(func.count()).select_from(Streetlight),))


def lights_changed(session: Session, old: Any, kept: Collection[str]) -> list[str]:
    """The lights added or removed since the kept bytes (their count moved): the ids differ."""
    now_ids = set(
        session.scalars(
            select(col(Streetlight.id)).where(mine(session, col(Streetlight.territory_id)))
        ).all()
    )
    return list(now_ids.symmetric_difference(kept))


def cabinets_layer(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    faulty = dict(
        session.execute(
            select(
                col(Streetlight.cabinet_id),
                func.sum(case((col(Streetlight.status) != "ok", 1), else_=0)),
            )
            .where(mine(session, col(Streetlight.territory_id)))
            .group_by(col(Streetlight.cabinet_id))
        ).all()
    )
    out = []
    for c in session.scalars(
        select(LightCabinet)
        .where(mine(session, col(LightCabinet.territory_id)))
        .order_by(col(LightCabinet.id))
    ).all():
        if c.lat is None or c.lon is None:
            continue
        out.append(
            point(
                c.id,
                c.lon,
                c.lat,
                kind="cabinet",
                state="fault" if faulty.get(c.id) else "ok",
                label=c.name,
                url=f"/staff/ops?open=cabinets/{c.id}",
                faulty=int(faulty.get(c.id) or 0),
            )
        )
    return out


def alarms_layer(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    alarms = session.scalars(
        select(LightAlarm)
        .where(col(LightAlarm.cleared_at).is_(None), mine(session, col(LightAlarm.territory_id)))
        .order_by(col(LightAlarm.id))
    ).all()
    light_ids = [a.device_id for a in alarms if a.device_kind == "light"]
    sensor_ids = [a.device_id for a in alarms if a.device_kind != "light"]
    where: dict[str, tuple[float, float, str]] = {}
    for start in range(0, len(light_ids), 500):
        for r in session.execute(
            select(
                col(Streetlight.device_id),
                col(Streetlight.lon),
                col(Streetlight.lat),
                col(Streetlight.id),
            ).where(col(Streetlight.device_id).in_(light_ids[start : start + 500]))
        ).all():
            where[r.device_id] = (r.lon, r.lat, f"/staff/lighting/lights/{r.id}")
    for start in range(0, len(sensor_ids), 500):
        for r in session.execute(
            select(col(Sensor.id), col(Sensor.lon), col(Sensor.lat)).where(
                col(Sensor.id).in_(sensor_ids[start : start + 500])
            )
        ).all():
            if r.lon is not None and r.lat is not None:
                where[r.id] = (r.lon, r.lat, f"/staff/ops?open=sensors/{r.id}")
    out = []
    for a in alarms:
        if a.device_id not in where:
            continue
        lon, lat, _url = where[a.device_id]
        out.append(
            point(
                str(a.id),
                lon,
                lat,
                kind="alarm",
                state="acknowledged" if a.acknowledged_at else "open",
                label=f"{status_words(a.kind)} · {a.device_id}",
                url="/staff/lighting/alarms",
                device_id=a.device_id,
                alarm=a.kind,
                severity=a.severity,
            )
        )
    return out


def _commune_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(col(Commune.insee), col(Commune.name))).all())


def _dim_fields(level: int | None) -> list[Field_]:
    return [
        Field_(
            "level",
            N_("Niveau (en pourcentage)"),
            "number",
            str(level if level is not None else 50),
            minimum=0,
            maximum=100,
        ),
        Field_(
            "minutes",
            N_("Durée (minutes)"),
            "number",
            "60",
            minimum=1,
            maximum=MAX_OVERRIDE_MINUTES,
        ),
    ]


def _elsewhere(session: Session, territory_id: int | None) -> bool:
    """Whether a row of that territory is another's than the one bound to the session (a panel
    asked on another territory's host is not found)."""
    territory = bound(session)
    return territory is not None and territory_id != territory.id


def light_panel(session: Session, feature_id: str, now: dt.datetime) -> Panel | None:
    light = session.get(Streetlight, feature_id)
    if light is None or _elsewhere(session, light.territory_id):
        return None
    group = session.get(LightGroup, light.group_id) if light.group_id else None
    communes = _commune_names(session)
    state = light_state(light.actual_level, light.status, light.offline)
    tz = territory_position(session).tz
    facts = [
        (_("Niveau"), "—" if light.actual_level is None else f"{light.actual_level} %"),
        (_("État de l'appareil"), status_words("offline" if light.offline else light.status)),
        (_("Puissance"), "—" if light.power_w is None else f"{light.power_w:.0f} W"),
        (_("Rue"), light.street or "—"),
        (_("Commune"), communes.get(light.commune_insee or "", "—")),
        (
            _("Groupe"),
            f"{group.name} ({communes.get(group.commune_insee or '', '—')})" if group else "—",
        ),
        (
            _("Dernières nouvelles"),
            light.last_seen_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
            if light.last_seen_at
            else "—",
        ),
    ]
    actions = [
        Action(
            N_("Forcer ce point lumineux"),
            f"/staff/lighting/lights/{light.id}/override",
            _dim_fields(light.actual_level),
            N_("Commande envoyée au point lumineux."),
        )
    ]
    if group is not None:
        actions.insert(
            0,
            Action(
                N_("Abaisser le groupe"),
                f"/staff/lighting/groups/{group.id}/override",
                _dim_fields(50),
                N_("Commande envoyée aux points lumineux du groupe."),
            ),
        )
    return Panel(
        title=f"{light.id} · {light.street}" if light.street else light.id,
        state=state,
        state_label=_(LIGHT_STATES[state]),
        facts=facts,
        history=urn("Streetlight", light.id),
        actions=actions,
        link=f"/staff/lighting/lights/{light.id}",
        commune=light.commune_insee,
    )


def cabinet_panel(session: Session, feature_id: str, now: dt.datetime) -> Panel | None:
    cabinet = session.get(LightCabinet, feature_id)
    if cabinet is None or _elsewhere(session, cabinet.territory_id):
        return None
    total, faulty = session.execute(
        select(func.count(), func.sum(case((col(Streetlight.status) != "ok", 1), else_=0))).where(
            col(Streetlight.cabinet_id) == cabinet.id
        )
    ).one()
    groups = session.scalars(
        select(LightGroup)
        .where(col(LightGroup.cabinet_id) == cabinet.id)
        .order_by(col(LightGroup.id))
    ).all()
    communes = _commune_names(session)
    facts = [
        (_("Commune"), communes.get(cabinet.commune_insee or "", "—")),
        (
            _("Mode"),
            _("Automatique") if cabinet.working_mode == "automatic" else cabinet.working_mode,
        ),
        (_("Points lumineux"), str(total or 0)),
        (_("En panne"), str(int(faulty or 0))),
        (_("Groupes"), ", ".join(g.name for g in groups) or "—"),
    ]
    state = "fault" if faulty else "ok"
    return Panel(
        title=cabinet.name,
        state=state,
        state_label=_(CABINET_STATES[state]),
        facts=facts,
        history=urn("StreetlightControlCabinet", cabinet.id),
        link=f"/staff/lighting/groups/{groups[0].id}" if groups else "/staff/lighting",
        commune=cabinet.commune_insee,
    )


def alarm_panel(session: Session, feature_id: str, now: dt.datetime) -> Panel | None:
    alarm = session.get(LightAlarm, int(feature_id)) if feature_id.isdigit() else None
    if alarm is None or _elsewhere(session, alarm.territory_id):
        return None
    tz = territory_position(session).tz
    light = session.scalars(
        select(Streetlight).where(col(Streetlight.device_id) == alarm.device_id)
    ).first()
    facts = [
        (_("Alarme"), status_words(alarm.kind)),
        (_("Appareil"), alarm.device_id),
        (_("Gravité"), alarm.severity),
        (_("Déclenchée le"), alarm.raised_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")),
    ]
    state = "acknowledged" if alarm.acknowledged_at else "open"
    return Panel(
        title=status_words(alarm.kind),
        state=state,
        state_label=_(ALARM_STATES[state]),
        facts=facts,
        history=urn("Streetlight", light.id) if light else None,
        link="/staff/lighting/alarms",
        commune=light.commune_insee if light else None,
    )


def _position(session: Session) -> Any:
    """The centre and time zone of the territory bound to the session (the default territory's
    when none is)."""
    territory = bound(session)
    return territory_position(session, territory.id if territory is not None else None)


def lights_kpi(
    session: Session, now: dt.datetime, communes: Collection[str] | None = None
) -> dict[str, Any]:
    """Lights on, off and faulty (out of order or offline) per commune, counted from an index (of
    ``communes`` only when given), in the communes of the session's territory."""
    columns = (
        col(Streetlight.commune_insee),
        col(Streetlight.status),
        col(Streetlight.offline),
        col(Streetlight.actual_level),
    )  # the index's order: grouped as it is read
    query = sa.select(*columns, func.count()).where(
        in_communes(session, col(Streetlight.commune_insee))
    )
    if communes is not None:
        query = query.where(col(Streetlight.commune_insee).in_(sorted(communes)))
    rows = session.execute(query.group_by(*columns)).all()
    out: dict[str, dict[str, int]] = {}
    for insee, status, offline, level, count in rows:
        if not insee:
            continue
        counts = out.setdefault(insee, {"on": 0, "off": 0, "faulty": 0})
        if status != "ok" or offline:
            counts["faulty"] += count
        elif level is not None and level > 0:
            counts["on"] += count
        elif level == 0:
            counts["off"] += count
    return out


def lights_communes(session: Session, ids: Sequence[str]) -> set[str | None]:
    """The communes of the lights ``ids``."""
    out: set[str | None] = set()
    for part in chunks(list(ids)):
        out.update(
            session.scalars(
                select(col(Streetlight.commune_insee))
                .where(col(Streetlight.id).in_(part))
                .distinct()
            ).all()
        )
    return out


def energy_kpi(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Energy measured this month (kWh) by the session's territory's groups, from the figures
    lighting keeps per group and month (the month of the territory's time zone)."""
    month = now.astimezone(_position(session).tz).strftime("%Y-%m")
    rows = session.execute(
        select(col(LightGroup.commune_insee), func.sum(col(LightEnergyMonth.energy_wh)))
        .join(LightGroup, col(LightGroup.id) == col(LightEnergyMonth.group_id))
        .where(col(LightEnergyMonth.month) == month, mine(session, col(LightGroup.territory_id)))
        .group_by(col(LightGroup.commune_insee))
    ).all()
    return {insee: round((wh or 0) / 1000, 1) for insee, wh in rows if insee}


# The energy kept per group and month (written by ingestion, which publishes no event for it).
energy_stamp = Stamp((select(func.count(), func.sum(col(LightEnergyMonth.energy_wh))),))


def energy_expire(session: Session, now: dt.datetime) -> dt.datetime:
    """The month changes at midnight on the 1st in the territory's time zone."""
    local = now.astimezone(_position(session).tz)
    first = (local.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return first.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


def saving_expire(session: Session, now: dt.datetime) -> dt.datetime:
    """The month's end, or five minutes: the saving is against the installed lamps, which may be
    added, removed or changed with no energy measured (counting them at every request would cost a
    scan of the fleet)."""
    return min(energy_expire(session, now), now + dt.timedelta(minutes=5))


OPS_LAYERS = [
    Layer(
        "lights",
        N_("Éclairage public"),
        20,
        lights_layer,
        light_panel,
        {"many": True},
        LIGHT_STATES,
        dump=lights_json,
        # Telemetry, commands, the offline sweep and imports publish "lights" events.
        fresh=Freshness(
            ("lights",), lights_count, features=lights_features, changed=lights_changed
        ),
    ),
    Layer("cabinets", N_("Armoires"), 25, cabinets_layer, cabinet_panel, {}, CABINET_STATES),
    Layer("alarms", N_("Alarmes ouvertes"), 60, alarms_layer, alarm_panel, {}, ALARM_STATES),
]
OPS_KPIS = [
    Kpi(
        "lights",
        N_("Points lumineux allumés / éteints / en panne"),
        "",
        20,
        lights_kpi,
        Freshness(("lights",), lights_count),  # level, state and offline changes publish events
        some=lights_kpi,
        communes=lights_communes,
    ),
    Kpi(
        "energy_month",
        N_("Énergie ce mois-ci"),
        "kWh",
        25,
        energy_kpi,
        Freshness((), energy_stamp, energy_expire),
    ),
    Kpi(
        "energy_saving",
        N_("Énergie économisée ce mois-ci"),  # against the lamps all night at full power
        "kWh",
        26,
        lighting_energy.saving_by_commune,
        Freshness((), energy_stamp, saving_expire),
    ),
]
