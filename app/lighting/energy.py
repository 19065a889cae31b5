"""Energy per month for the staff energy page, at a cost that does not grow with the fleet or its history.

- Measured: ``light_energy_months`` (per group and local month), added to by
  telemetry ingestion (``app.lighting.relay``), and summed per territory and
  month by triggers (``light_territory_energy``): the page reads one row per
  month instead of the groups' rows or the hourly and daily history.
- Modelled (what the programs predict, and each baseline): the energy of one
  lamp for a month under a program and calendar is cached in
  ``light_energy_models``, keyed by a digest of what it depends on (the
  program or calendar definitions, the position) and the lamp's wattage. A
  past month is computed once; the current month again once its figure is an
  hour old. The page multiplies by the lamps counted per program, calendar
  and wattage (``light_lamp_counts``, kept by triggers: a few rows per program,
  whatever the number of lights or groups). The baselines' yearly figures per
  lamp are cached the same way, per year.

Called by the staff energy page (``app.routes.lighting``) and the benchmarks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, true
from sqlmodel import Session, col, select

from app.db import upsert, write_session
from app.lighting import consumption, control
from app.lighting.programs import Position
from app.models.lighting import (
    LightCalendar,
    LightEnergyModel,
    LightEnergyMonth,
    LightGroup,
    LightLampCount,
    LightProgram,
    LightTerritoryEnergy,
    Streetlight,
)
from app.territories import bound

REFRESH = dt.timedelta(hours=1)  # the current month's modelled figures are at most this old


@dataclass(frozen=True)
class EnergyRow:
    month: str
    start: dt.datetime
    end: dt.datetime
    measured_kwh: float
    programmed_kwh: float
    baselines: dict[str, float]


def monthly_energy_kwh(
    session: Session, months: Sequence[str] | None = None, territory_id: int | None = None
) -> dict[str, float]:
    """Measured energy per local month (``YYYY-MM`` → kWh) of the whole fleet, or of one
    territory's groups (one row per month of ``light_territory_energy``, whatever its fleet)."""
    if territory_id is not None:
        query = select(col(LightTerritoryEnergy.month), col(LightTerritoryEnergy.energy_wh)).where(
            col(LightTerritoryEnergy.territory_id) == territory_id
        )
        if months is not None:
            query = query.where(col(LightTerritoryEnergy.month).in_(list(months)))
    else:
        query = select(
            col(LightEnergyMonth.month), func.sum(col(LightEnergyMonth.energy_wh))
        ).group_by(col(LightEnergyMonth.month))
        if months is not None:
            query = query.where(col(LightEnergyMonth.month).in_(list(months)))
    return {month: float(wh or 0) / 1000.0 for month, wh in session.execute(query).all()}


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]


def _source_keys(
    session: Session, position: Position, pairs: set[tuple[int | None, int | None]]
) -> tuple[dict[str, Any], dict[tuple[int | None, int | None], str]]:
    """Per (program, calendar) of the groups: the key of what their lamps follow; and the sources by
    key (loaded once each). Worked out once per pair, not once per group: a territory has thousands
    of groups and a handful of programs."""
    where = (position.latitude, position.longitude, position.timezone)
    programs = {p.id: p for p in session.scalars(select(LightProgram)).all()}
    calendars = {c.id: c for c in session.scalars(select(LightCalendar)).all()}
    every_program = sorted((p.name, p.definition) for p in programs.values())
    sources: dict[str, Any] = {}
    cache: dict[tuple[str, int], Any] = {}
    by_pair: dict[tuple[int | None, int | None], str] = {}
    default = "default:" + _digest("all-night", where)
    for program_id, calendar_id in pairs:
        key = default
        if calendar_id in calendars:
            key = "calendar:" + _digest(calendars[calendar_id].definition, every_program, where)
        elif program_id in programs:
            key = "program:" + _digest(programs[program_id].definition, where)
        if key != default and key not in sources:
            row = LightGroup(id="", name="", program_id=program_id, calendar_id=calendar_id)
            source = control.group_source(session, row, cache)
            if source is None:
                key = default
            else:
                sources[key] = source
        by_pair[(program_id, calendar_id)] = key
    sources[default] = None
    return sources, by_pair


def lamps_by_source(
    session: Session, territory_id: int | None = None
) -> list[tuple[int | None, int | None, float, int]]:
    """(program, calendar, wattage, lamps) of the fleet (or of one territory's lamps), from the
    lights counted per territory, program, calendar, wattage and technology (``light_lamp_counts``,
    kept by triggers on ``streetlights`` and ``light_groups``: a few rows per program, whatever the
    fleet's size). Lights outside any group, or in a group without a program, have neither."""
    query: Any = select(
        col(LightLampCount.program_id),
        col(LightLampCount.calendar_id),
        col(LightLampCount.nominal_w),
        func.sum(col(LightLampCount.lamps)),
    ).where(col(LightLampCount.lamps) > 0)
    if territory_id is not None:
        query = query.where(col(LightLampCount.territory_id) == territory_id)
    rows = session.execute(
        query.group_by(
            col(LightLampCount.program_id),
            col(LightLampCount.calendar_id),
            col(LightLampCount.nominal_w),
        ).order_by(
            col(LightLampCount.program_id),
            col(LightLampCount.calendar_id),
            col(LightLampCount.nominal_w),
        )
    ).all()
    return [(p or None, c or None, float(w), int(n)) for p, c, w, n in rows]


def lamps_by_technology(session: Session, territory_id: int) -> dict[str, int]:
    """A territory's lamps per technology (``LED``, ``HPS``…), from the same counted rows."""
    return {
        str(technology): int(lamps)
        for technology, lamps in session.execute(
            select(col(LightLampCount.technology), func.sum(col(LightLampCount.lamps)))
            .where(col(LightLampCount.territory_id) == territory_id, col(LightLampCount.lamps) > 0)
            .group_by(col(LightLampCount.technology))
            .order_by(col(LightLampCount.technology))
        ).all()
    }


class _Models:
    """The one-lamp monthly figures, read from the cache in one query and completed where missing."""

    def __init__(
        self, session: Session, months: list[tuple[str, dt.datetime, dt.datetime]], now: dt.datetime
    ):
        self.session = session
        self.months = months
        self.now = now
        keys = [m for m, _, _ in months]
        self.rows = {
            (r.source_key, r.nominal_w, r.month): r
            for r in session.scalars(
                select(LightEnergyModel).where(col(LightEnergyModel.month).in_(keys))
            ).all()
        }
        self.fresh: list[dict[str, Any]] = []

    def kwh(
        self,
        key: str,
        nominal_w: float,
        month: str,
        start: dt.datetime,
        end: dt.datetime,
        compute: Any,
    ) -> float:
        row = self.rows.get((key, nominal_w, month))
        if row is not None and (row.through >= end or self.now - row.through < REFRESH):
            return float(row.kwh)
        value = float(compute(start, end))
        self.fresh.append(
            {
                "source_key": key,
                "nominal_w": nominal_w,
                "month": month,
                "kwh": value,
                "through": end,
            }
        )
        self.rows[(key, nominal_w, month)] = LightEnergyModel(
            source_key=key, nominal_w=nominal_w, month=month, kwh=value, through=end
        )
        return value

    def save(self) -> None:
        """Store what was computed (own short write transaction: the page's session only reads)."""
        if not self.fresh:
            return
        engine = self.session.get_bind()
        with write_session(engine) as writer:
            upsert(
                writer,
                LightEnergyModel,
                ["source_key", "nominal_w", "month"],
                self.fresh,
                replace=["kwh", "through"],
            )
        self.fresh = []


def _months(now: dt.datetime, zone: Any, count: int) -> list[tuple[str, dt.datetime, dt.datetime]]:
    local_now = now.astimezone(zone)
    out = []
    for back in range(count - 1, -1, -1):
        year, month = local_now.year, local_now.month - back
        while month < 1:
            year, month = year - 1, month + 12
        start = dt.datetime(year, month, 1, tzinfo=zone)
        end = min(dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone), local_now)
        out.append((f"{year:04d}-{month:02d}", start, end))
    return out


def energy_report(
    session: Session, now: dt.datetime, months: int = 6, territory_id: int | None = None
) -> list[EnergyRow]:
    """Per month: measured kWh, kWh the programs predict, and each baseline's kWh, for the fleet
    (or one territory's lamps, at its position).

    Baselines (``app.lighting.BASELINES``) use the same lamp count and period;
    ``led_full`` is the installed lamps at their nominal power all night.
    """
    position = control.territory_position(session, territory_id)
    periods = _months(now, position.tz, months)
    measured = monthly_energy_kwh(session, [m for m, _, _ in periods], territory_id)
    fleet = lamps_by_source(session, territory_id)
    sources, by_pair = _source_keys(session, position, {(p, c) for p, c, _w, _n in fleet})
    lamps: dict[tuple[str, float], int] = {}  # (source key, wattage) -> lamps
    count, installed_w = 0, 0.0
    for program_id, calendar_id, nominal, n in fleet:
        key = by_pair[(program_id, calendar_id)]
        lamps[(key, nominal)] = lamps.get((key, nominal), 0) + n
        count += n
        installed_w += nominal * n
    all_night = consumption.BASELINES["led_70_all_night"].program
    models = _Models(session, periods, now)
    where = _digest(position.latitude, position.longitude, position.timezone)[:12]
    rows: list[EnergyRow] = []
    for month, start, end in periods:
        programmed = 0.0
        for (key, nominal), n in lamps.items():
            source = sources[key] or all_night
            programmed += n * models.kwh(
                key,
                nominal,
                month,
                start,
                end,
                lambda a, b, s=source, w=nominal: consumption.energy_between_kwh(
                    s, w, position, a, b
                ),
            )
        baselines = {}
        for name, b in consumption.BASELINES.items():
            one = models.kwh(
                f"baseline:{name}:{where}",
                b.nominal_w,
                month,
                start,
                end,
                lambda a, b_, b=b: consumption.energy_between_kwh(
                    b.program,
                    b.nominal_w,
                    position,
                    a,
                    b_,
                    driver_floor=b.driver_floor,
                    standby_w=b.standby_w,
                ),
            )
            baselines[name] = count * one
        # All night at nominal power, no driver floor or standby: proportional to the installed watts.
        per_watt = models.kwh(
            f"baseline:led_full:{where}",
            1.0,
            month,
            start,
            end,
            lambda a, b: consumption.energy_between_kwh(
                all_night, 1.0, position, a, b, driver_floor=0.0, standby_w=0.0
            ),
        )
        baselines["led_full"] = installed_w * per_watt
        rows.append(EnergyRow(month, start, end, measured.get(month, 0.0), programmed, baselines))
    models.save()
    return rows


def yearly_baselines_kwh(
    session: Session, now: dt.datetime, year: int, position: Position
) -> dict[str, float]:
    """Each baseline's energy for one lamp over the local calendar ``year`` at ``position`` (the
    territory's), computed once per year and position and then read from ``light_energy_models``
    (keyed by the year, ``YYYY``)."""
    where = _digest(position.latitude, position.longitude, position.timezone)[:12]
    start = dt.datetime(year, 1, 1, tzinfo=position.tz)
    end = dt.datetime(year + 1, 1, 1, tzinfo=position.tz)
    label = f"{year:04d}"
    models = _Models(session, [(label, start, end)], now)
    out = {
        name: models.kwh(
            f"baseline-year:{name}:{where}",
            b.nominal_w,
            label,
            start,
            end,
            lambda _a, _b, b=b: b.yearly_kwh(position, year),
        )
        for name, b in consumption.BASELINES.items()
    }
    models.save()
    return out


def saving_by_commune(session: Session, now: dt.datetime) -> dict[str, float]:
    """kWh saved this month per commune (INSEE): the commune's installed lamps all night at their
    nominal power (the unprogrammed baseline, ``led_full`` on the energy page) minus the energy
    measured. Communes whose lamps have measured nothing this month have no figure."""
    territory = bound(session)
    mine: Any = true() if territory is None else col(LightGroup.territory_id) == territory.id
    position = control.territory_position(session, territory.id if territory else None)
    ((month, start, end),) = _months(now, position.tz, 1)
    measured = dict(
        session.execute(
            select(col(LightGroup.commune_insee), func.sum(col(LightEnergyMonth.energy_wh)))
            .join(LightGroup, col(LightGroup.id) == col(LightEnergyMonth.group_id))
            .where(col(LightEnergyMonth.month) == month, mine)
            .group_by(col(LightGroup.commune_insee))
        ).all()
    )
    if not any(measured.values()):
        return {}
    installed = dict(
        session.execute(
            select(col(LightGroup.commune_insee), func.sum(col(Streetlight.nominal_w)))
            .join(LightGroup, col(LightGroup.id) == col(Streetlight.group_id))
            .where(mine)
            .group_by(col(LightGroup.commune_insee))
        ).all()
    )
    all_night = consumption.BASELINES["led_70_all_night"].program
    where = _digest(position.latitude, position.longitude, position.timezone)[:12]
    models = _Models(session, [(month, start, end)], now)
    per_watt = models.kwh(  # the same cached figure as the energy page's "led_full" baseline
        f"baseline:led_full:{where}",
        1.0,
        month,
        start,
        end,
        lambda a, b: consumption.energy_between_kwh(
            all_night, 1.0, position, a, b, driver_floor=0.0, standby_w=0.0
        ),
    )
    models.save()
    return {
        insee: round(float(installed.get(insee) or 0) * per_watt - (wh or 0) / 1000, 1)
        for insee, wh in measured.items()
        if insee and wh
    }
