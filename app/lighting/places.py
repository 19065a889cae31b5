"""Where each light is, for the rules of maintenance (``Locator``): by light id on the ``lights``
layer, and by device id for the lighting alarms (a light or a sensor that is offline or at fault).

Lighting groups and cabinets are places too (layers ``groups`` and ``cabinets``): a rule watches them
through figures summed over their lights, read fresh at each evaluation (how many lights, how many
offline or at fault and of which fault, the measured power, the mean level), and a cabinet whose
lights all fell silent is silent. Each light says which group and cabinet it belongs to (``within``),
so a change of a light makes the rules evaluate its group and cabinet again."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from app.interfaces import Locator, Place
from app.models.lighting import LightCabinet, LightGroup, Streetlight
from app.models.sensors import Sensor


def _lights(session: Session, column: str, ids: Sequence[str] | None) -> dict[str, Place]:
    key = getattr(Streetlight, column)
    query = sa.select(
        key.label("key"),
        col(Streetlight.commune_insee),
        col(Streetlight.lat),
        col(Streetlight.lon),
        col(Streetlight.last_seen_at),
        col(Streetlight.group_id),
        col(Streetlight.cabinet_id),
        col(Streetlight.territory_id),
    )
    out: dict[str, Place] = {}
    chunks = [None] if ids is None else [list(ids)[i : i + 500] for i in range(0, len(ids), 500)]
    for part in chunks:
        rows = session.execute(query if part is None else query.where(key.in_(part))).all()
        out.update(
            {
                r.key: Place(
                    r.key,
                    r.commune_insee,
                    r.lat,
                    r.lon,
                    "light",
                    0,
                    r.last_seen_at,
                    _within(r.group_id, r.cabinet_id),
                    territory_id=r.territory_id,
                )
                for r in rows
            }
        )
    return out


def _within(group_id: str | None, cabinet_id: str | None) -> tuple[tuple[str, str], ...]:
    return tuple(
        (layer, key) for layer, key in (("groups", group_id), ("cabinets", cabinet_id)) if key
    )


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
                col(Sensor.territory_id),
            ).where(col(Sensor.id).in_(rest[start : start + 500]))
        ).all():
            out[r.id] = Place(
                r.name, r.commune_insee, r.lat, r.lon, r.kind, territory_id=r.territory_id
            )
    return out


def all_devices(session: Session) -> dict[str, Place]:
    return _lights(session, "device_id", None)


# --- groups and cabinets: figures over their lights ----------------------------------------------


def _collections(
    session: Session, model: type[LightGroup] | type[LightCabinet], ids: Sequence[str] | None
) -> dict[str, Place]:
    """The groups (or cabinets) ``ids`` (None: all) with their lights summed up, in two queries a
    500 ids: the rows themselves, and the lights counted by (collection, offline, status)."""
    kind, member_key = (
        ("group", col(Streetlight.group_id))
        if model is LightGroup
        else ("cabinet", col(Streetlight.cabinet_id))
    )
    out: dict[str, Place] = {}
    chunks = [None] if ids is None else [list(ids)[i : i + 500] for i in range(0, len(ids), 500)]
    for part in chunks:
        rows = session.execute(
            sa.select(model).where(col(model.id).in_(part))
            if part is not None
            else sa.select(model)
        ).scalars()
        found = {row.id: row for row in rows}
        if not found:
            continue
        counted: Any = (
            sa.select(
                member_key.label("key"),
                col(Streetlight.offline),
                col(Streetlight.status),
                sa.func.count().label("n"),
                sa.func.sum(col(Streetlight.power_w)).label("power_w"),
                sa.func.sum(col(Streetlight.actual_level)).label("level_sum"),
                sa.func.count(col(Streetlight.actual_level)).label("level_n"),
                sa.func.max(col(Streetlight.last_seen_at)).label("last_seen"),
                sa.func.max(col(Streetlight.reporting_period_s)).label("period_s"),
                sa.func.sum(col(Streetlight.lat)).label("lat_sum"),
                sa.func.sum(col(Streetlight.lon)).label("lon_sum"),
                sa.func.min(col(Streetlight.commune_insee)).label("commune"),
            )
            .where(member_key.in_(list(found)) if part is not None else member_key.is_not(None))
            .group_by(member_key, col(Streetlight.offline), col(Streetlight.status))
        )
        sums: dict[str, dict[str, Any]] = {}
        for r in session.execute(counted).all():
            s = sums.setdefault(
                r.key,
                {
                    "figures": defaultdict(float),
                    "level_sum": 0.0,
                    "level_n": 0,
                    "last_seen": None,
                    "period_s": 0,
                    "lat": 0.0,
                    "lon": 0.0,
                    "commune": r.commune,
                },
            )
            figures = s["figures"]
            figures["members"] += r.n
            if r.offline:
                figures["offline"] += r.n
            else:  # what an offline light last said is no longer its power or level
                figures["power_w"] += r.power_w or 0.0
                s["level_sum"] += r.level_sum or 0.0
                s["level_n"] += r.level_n
            if r.status != "ok":
                figures["fault"] += r.n
                figures[r.status] += r.n
            if r.last_seen is not None and (s["last_seen"] is None or r.last_seen > s["last_seen"]):
                s["last_seen"] = r.last_seen
            s["period_s"] = max(s["period_s"], r.period_s or 0)
            s["lat"] += r.lat_sum or 0.0
            s["lon"] += r.lon_sum or 0.0
        for key, row in found.items():
            got = sums.get(key)
            figures = dict(got["figures"]) if got else {"members": 0.0}
            n = figures["members"]
            if got and got["level_n"]:
                figures["level"] = got["level_sum"] / got["level_n"]
            lat = getattr(row, "lat", None)
            lon = getattr(row, "lon", None)
            if (lat is None or lon is None) and got and n:
                lat, lon = got["lat"] / n, got["lon"] / n
            out[key] = Place(
                row.name,
                row.commune_insee or (got["commune"] if got else None),
                lat,
                lon,
                kind,
                got["period_s"] if got else 0,
                got["last_seen"] if got else None,
                figures=figures,
                territory_id=row.territory_id,
            )
    return out


def groups(session: Session, ids: Sequence[str]) -> dict[str, Place]:
    return _collections(session, LightGroup, ids)


def all_groups(session: Session) -> dict[str, Place]:
    return _collections(session, LightGroup, None)


def cabinets(session: Session, ids: Sequence[str]) -> dict[str, Place]:
    return _collections(session, LightCabinet, ids)


def all_cabinets(session: Session) -> dict[str, Place]:
    return _collections(session, LightCabinet, None)


LOCATORS = (
    Locator("lights", lights, all_lights),
    Locator("alarms", devices, all_devices),
    Locator("groups", groups, all_groups),
    Locator("cabinets", cabinets, all_cabinets),
)
