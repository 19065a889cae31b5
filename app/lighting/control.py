"""Lighting in the database: overrides, per-device commands, reconciliation, alarms, history.

Shared by the staff pages, the CLI (``eclor lights set``) and the worker. Every
function takes a session inside the caller's write transaction, so a decision
and its commands are committed together (outbox) and the relay publishes them.

Commands
--------
A staff action on a group of thousands of lights is one override row and one
``light_commands`` row per light. A new command for a light supersedes that
light's open commands (never published again); a new override replaces the
previous active override of its target. Each command carries ``expires_at``:
the override's expiry, or a delivery window (:data:`COMMAND_TTL`) for
open-ended overrides and program levels, after which it is never sent and a
device refuses it. :func:`reconcile` compares each light's target with what its
override or program asks for now and issues what differs, re-issuing a command
that expired while the light was unreachable once the light reports again.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, func, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app import events
from app.db import chunks, read_session, table_of, upsert, write_session
from app.device_alarms import raise_alarm
from app.i18n import gettext as _
from app.lighting import calendars, nights
from app.lighting import commands as lighting_commands
from app.lighting.calendars import Calendar
from app.lighting.programs import LightingError, Position, Program
from app.models.lighting import (
    OPEN_COMMAND_STATES,
    LightCalendar,
    LightCommand,
    LightDaily,
    LightGroup,
    LightHourly,
    LightOverride,
    LightProgram,
    Streetlight,
)
from app.models.territory import Territory
from app.territories import FALLBACK, bound, default_territory, zones

UTC = dt.UTC
COMMAND_TTL = dt.timedelta(minutes=15)
MAX_OVERRIDE_MINUTES = 7 * 24 * 60
OFFLINE_PERIODS = 3
FAULT_STATUSES = ("defectiveLamp", "columnIssue", "brokenLantern", "lampFailure", "supplyLoss")


def new_command_id() -> str:
    return uuid.uuid4().hex


def territory_position_default() -> Position:
    """The Pays-Haut Val d'Alzette, when no territory row says otherwise."""
    return Position(49.47, 5.94, FALLBACK.timezone)


def territory_position(session: Session, territory_id: int | None = None) -> Position:
    """Where sun events are computed: the territory's centre and time zone (when none is named,
    the session's territory, else the default one, the first)."""
    if territory_id is None and (here := bound(session)) is not None and here.id:
        territory_id = here.id
    territory = (
        session.get(Territory, territory_id)
        if territory_id is not None
        else default_territory(session)
    )
    if territory is None:
        return territory_position_default()
    return Position(territory.lat, territory.lon, territory.timezone)


# --------------------------------------------------------------------------- programs


def load_program(row: LightProgram) -> Program:
    return Program.from_dict(json.loads(row.definition))


def load_calendar(session: Session, row: LightCalendar) -> Calendar:
    # A calendar names the programs of its own territory.
    query = select(LightProgram)
    if row.territory_id is not None:
        query = query.where(col(LightProgram.territory_id) == row.territory_id)
    programs = {p.name: load_program(p) for p in session.scalars(query).all()}
    return Calendar.from_dict(json.loads(row.definition), programs)


def group_source(
    session: Session, group: LightGroup, cache: dict[tuple[str, int], Any] | None = None
) -> calendars.ProgramSource | None:
    """The group's calendar (first) or program, or None when it has neither."""
    cache = cache if cache is not None else {}
    if group.calendar_id is not None:
        key = ("calendar", group.calendar_id)
        if key not in cache:
            row = session.get(LightCalendar, group.calendar_id)
            cache[key] = load_calendar(session, row) if row else None
        if cache[key] is not None:
            return cache[key]
    if group.program_id is not None:
        key = ("program", group.program_id)
        if key not in cache:
            program = session.get(LightProgram, group.program_id)
            cache[key] = load_program(program) if program else None
        return cache[key]
    return None


# --------------------------------------------------------------------------- commands


def issue_commands(
    session: Session,
    lights: Sequence[tuple[str, str]],
    *,
    level: int,
    reason: str,
    expires_at: dt.datetime,
    now: dt.datetime,
    override_id: int | None = None,
    ramp_s: int = 0,
) -> int:
    """One command per (light id, device id); supersedes their open commands. Returns the count."""
    if not lights:
        return 0
    light_ids = [light_id for light_id, _device in lights]
    for part in chunks(light_ids):
        session.execute(
            update(LightCommand)
            .where(
                col(LightCommand.light_id).in_(part),
                col(LightCommand.state).in_(OPEN_COMMAND_STATES),
            )
            .values(state="superseded", finished_at=now)
        )
    rows = []
    targets = []
    for light_id, device_id in lights:
        command_id = new_command_id()
        rows.append(
            {
                "command_id": command_id,
                "light_id": light_id,
                "device_id": device_id,
                "override_id": override_id,
                "level": level,
                "ramp_s": ramp_s,
                "reason": reason,
                "state": "queued",
                "issued_at": now,
                "expires_at": expires_at,
                "attempts": 0,
                "next_attempt_at": now,
            }
        )
        targets.append(
            {
                "b_id": light_id,
                "b_level": level,
                "b_reason": reason,
                "b_cmd": command_id,
                "b_exp": expires_at,
            }
        )
    for part in chunks(rows, 1000):
        session.execute(table_of(LightCommand).insert(), list(part))
    table = table_of(Streetlight)
    from sqlalchemy import bindparam

    stmt = (
        table.update()
        .where(table.c.id == bindparam("b_id"))
        .values(
            target_level=bindparam("b_level"),
            target_reason=bindparam("b_reason"),
            target_command_id=bindparam("b_cmd"),
            target_expires_at=bindparam("b_exp"),
        )
    )
    session.connection().execute(stmt, targets)
    return len(rows)


def lights_of(session: Session, scope: str, target_id: str) -> list[tuple[str, str]]:
    """(light id, device id) of a group's lights or of one light; a group's lights of its own
    territory only (a command issued for a group never reaches another territory's light)."""
    if scope == "group":
        group_territory = (
            select(col(LightGroup.territory_id))
            .where(col(LightGroup.id) == target_id)
            .scalar_subquery()
        )
        query = select(col(Streetlight.id), col(Streetlight.device_id)).where(
            col(Streetlight.group_id) == target_id,
            col(Streetlight.territory_id) == group_territory,
        )
    else:
        query = select(col(Streetlight.id), col(Streetlight.device_id)).where(
            col(Streetlight.id) == target_id
        )
    return [(row[0], row[1]) for row in session.execute(query.order_by(col(Streetlight.id))).all()]


@dataclass(frozen=True)
class OverrideResult:
    override: LightOverride
    commands: int


def _check_target(session: Session, scope: str, target_id: str) -> None:
    if scope not in ("group", "light"):
        raise LightingError(_("Cible inconnue : un groupe ou un point lumineux."), "scope")
    model = LightGroup if scope == "group" else Streetlight
    if not target_id or session.get(model, target_id) is None:
        message = (
            _("Groupe inconnu : « {id} ».")
            if scope == "group"
            else _("Point lumineux inconnu : « {id} ».")
        )
        raise LightingError(message.format(id=target_id), "target")


def set_override(
    session: Session,
    scope: str,
    target_id: str,
    level: Any,
    minutes: Any = None,
    *,
    user_id: int | None = None,
    now: dt.datetime,
) -> OverrideResult:
    """Override a group or a light at ``level`` for ``minutes`` (None: until "back to program")."""
    _check_target(session, scope, target_id)
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 100:
        raise LightingError(_("Le niveau doit être un entier entre 0 et 100."), "level")
    if minutes is not None and (
        isinstance(minutes, bool)
        or not isinstance(minutes, int)
        or not 1 <= minutes <= MAX_OVERRIDE_MINUTES
    ):
        raise LightingError(
            _("La durée doit être un nombre entier de minutes entre 1 et {max}.").format(
                max=MAX_OVERRIDE_MINUTES
            ),
            "minutes",
        )
    lights = lights_of(session, scope, target_id)
    if not lights:
        raise LightingError(_("Ce groupe n'a aucun point lumineux."), "target")
    _end_overrides(session, scope, target_id, "replaced", now)
    expires_at = now + dt.timedelta(minutes=minutes) if minutes else None
    override = LightOverride(
        scope=scope,
        target_id=target_id,
        level=level,
        expires_at=expires_at,
        state="active",
        created_by=user_id,
        created_at=now,
    )
    session.add(override)
    session.flush()
    delivery = expires_at if expires_at is not None else now + COMMAND_TTL
    count = issue_commands(
        session,
        lights,
        level=level,
        reason="override",
        expires_at=delivery,
        now=now,
        override_id=override.id,
    )
    return OverrideResult(override, count)


def _end_overrides(
    session: Session, scope: str, target_id: str, state: str, now: dt.datetime
) -> None:
    conditions = [
        and_(col(LightOverride.scope) == scope, col(LightOverride.target_id) == target_id)
    ]
    if scope == "group":  # a group override also replaces its lights' own overrides
        light_ids = select(col(Streetlight.id)).where(col(Streetlight.group_id) == target_id)
        conditions.append(
            and_(col(LightOverride.scope) == "light", col(LightOverride.target_id).in_(light_ids))
        )
    session.execute(
        update(LightOverride)
        .where(col(LightOverride.state) == "active", or_(*conditions))
        .values(state=state, ended_at=now)
        .execution_options(synchronize_session=False)
    )


def resume_program(session: Session, scope: str, target_id: str, *, now: dt.datetime) -> int:
    """ "Back to program": end the target's overrides and send the program's level. Returns commands."""
    _check_target(session, scope, target_id)
    _end_overrides(session, scope, target_id, "cancelled", now)
    if scope == "group":
        return reconcile(session, now, group_ids=[target_id])
    light = session.get(Streetlight, target_id)
    return reconcile(
        session,
        now,
        group_ids=[light.group_id] if light and light.group_id else [],
        light_ids=[target_id],
    )


def reconcile(
    session: Session,
    now: dt.datetime,
    *,
    group_ids: Sequence[str] | None = None,
    light_ids: Sequence[str] | None = None,
) -> int:
    """Issue the commands that bring targets in line with overrides and programs. Returns the count."""
    session.execute(
        update(LightOverride)
        .where(
            col(LightOverride.state) == "active",
            col(LightOverride.expires_at).is_not(None),
            col(LightOverride.expires_at) <= now,
        )
        .values(state="expired", ended_at=now)
        .execution_options(synchronize_session=False)
    )
    active = session.scalars(
        select(LightOverride).where(col(LightOverride.state) == "active")
    ).all()
    group_override = {o.target_id: o for o in active if o.scope == "group"}
    light_override = {o.target_id: o for o in active if o.scope == "light"}
    positions: dict[int | None, Position] = {}
    groups_query = select(LightGroup)
    if group_ids is not None:
        groups_query = groups_query.where(col(LightGroup.id).in_(list(group_ids)))
    cache: dict[tuple[str, int], Any] = {}
    issued = 0
    for group in session.scalars(groups_query).all():
        if group.territory_id not in positions:
            positions[group.territory_id] = territory_position(session, group.territory_id)
        position = positions[group.territory_id]
        source = group_source(session, group, cache)
        program_cmd: lighting_commands.Command | None = None
        if source is not None:
            level = nights.level_at(source, now, position)
            change = nights.next_change(source, now, position)
            until = change[0].astimezone(UTC) if change else None
            program_cmd = lighting_commands.Command(level, lighting_commands.Reason.PROGRAM, until)
        query = sa.select(
            col(Streetlight.id),
            col(Streetlight.device_id),
            col(Streetlight.target_level),
            col(Streetlight.target_reason),
            col(Streetlight.target_command_id),
            col(Streetlight.offline),
            col(Streetlight.last_seen_at),
        ).where(
            col(Streetlight.group_id) == group.id,
            col(Streetlight.territory_id) == group.territory_id,
        )
        if light_ids is not None:
            query = query.where(col(Streetlight.id).in_(list(light_ids)))
        rows = session.execute(query).all()
        stale = _stale_targets(session, [r.target_command_id for r in rows if r.target_command_id])
        wanted: dict[tuple[int, str, dt.datetime, int | None], list[tuple[str, str]]] = {}
        for row in rows:
            override = light_override.get(row.id) or group_override.get(group.id)
            if override is not None:
                desired = lighting_commands.Command(
                    override.level, lighting_commands.Reason.OVERRIDE, override.expires_at
                )
                override_id = override.id
            elif program_cmd is not None:
                desired, override_id = program_cmd, None
            else:
                continue
            differs = row.target_level != desired.level or row.target_reason != desired.reason.value
            retry = (
                not differs
                and row.target_command_id in stale
                and not row.offline
                and row.last_seen_at is not None
            )
            if not (differs or retry):
                continue
            deadline = now + COMMAND_TTL
            if desired.expires_at is not None:
                deadline = (
                    min(deadline, desired.expires_at)
                    if desired.reason == lighting_commands.Reason.PROGRAM
                    else desired.expires_at
                )
            if deadline <= now:
                deadline = now + dt.timedelta(minutes=1)
            wanted.setdefault(
                (desired.level, desired.reason.value, deadline, override_id), []
            ).append((row.id, row.device_id))
        for (level, reason, deadline, override_id), lights in wanted.items():
            issued += issue_commands(
                session,
                lights,
                level=level,
                reason=reason,
                expires_at=deadline,
                now=now,
                override_id=override_id,
            )
    return issued


RECONCILE_BATCH_LIGHTS = 2_000  # lights per write transaction of the periodic reconcile


def reconcile_in_batches(
    engine: Engine,
    now: dt.datetime,
    *,
    batch_lights: int = RECONCILE_BATCH_LIGHTS,
    pause_s: float = 0.0,
) -> int:
    """``reconcile`` over every group, in short write transactions of whole groups of about
    ``batch_lights`` lights each, so that other writers (the ingestion of readings) wait for one
    batch at most, never for the whole fleet (0.7 s at 100,000 lights in one transaction on SQLite).

    Each group is reconciled from the state of the moment its batch runs: the commands issued are
    those one transaction would issue, group by group. Returns how many were issued.
    """
    with read_session(engine) as session:
        sizes = session.execute(
            select(col(LightGroup.id), func.count(col(Streetlight.id)))
            .outerjoin(Streetlight, col(Streetlight.group_id) == col(LightGroup.id))
            .group_by(col(LightGroup.id))
            .order_by(col(LightGroup.id))
        ).all()
    batches: list[list[str]] = [[]]
    counted = 0
    for group_id, size in sizes:
        if batches[-1] and counted + size > batch_lights:
            batches.append([])
            counted = 0
        batches[-1].append(group_id)
        counted += size
    issued = 0
    for index, group_ids in enumerate(batches):
        if index and pause_s:
            time.sleep(pause_s)  # let a waiting writer in between two batches
        with write_session(engine) as session:
            issued += reconcile(session, now, group_ids=group_ids)
    return issued


def _stale_targets(session: Session, command_ids: Sequence[str]) -> set[str]:
    """Command ids among ``command_ids`` that ended without being applied (expired or failed)."""
    stale: set[str] = set()
    for part in chunks(list(command_ids)):
        stale.update(
            session.scalars(
                select(col(LightCommand.command_id)).where(
                    col(LightCommand.command_id).in_(part),
                    col(LightCommand.state).in_(("expired", "failed")),
                )
            ).all()
        )
    return stale


def expire_commands(session: Session, now: dt.datetime) -> int:
    """Open commands whose expiry passed become ``expired``. Returns how many."""
    result = session.exec(
        update(LightCommand)
        .where(
            col(LightCommand.state).in_(OPEN_COMMAND_STATES), col(LightCommand.expires_at) <= now
        )
        .values(state="expired", finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def command_counts(
    session: Session, light_ids_query: Any = None, since: dt.datetime | None = None
) -> dict[str, int]:
    query = select(col(LightCommand.state), func.count()).group_by(col(LightCommand.state))
    if light_ids_query is not None:
        query = query.where(col(LightCommand.light_id).in_(light_ids_query))
    if since is not None:
        query = query.where(col(LightCommand.issued_at) >= since)
    return {state: int(count) for state, count in session.execute(query).all()}


# --------------------------------------------------------------------------- alarms & offline


def light_state(level: int | None, status: str, offline: bool) -> str:
    """A light's state on the operations map: offline, fault, unknown, off, dimmed or on."""
    if offline:
        return "offline"
    if status != "ok":
        return "fault"
    if level is None:
        return "unknown"
    return "off" if level == 0 else ("on" if level >= 100 else "dimmed")


def sweep_offline(session: Session, now: dt.datetime, periods: int = OFFLINE_PERIODS) -> list[str]:
    """Lights and sensors without data for ``periods`` reporting periods become offline (alarm).

    Decided from the last data received, never from keep-alives or retained status.
    """
    from app.models.sensors import Sensor

    went: list[str] = []
    devices = (
        (Streetlight, "light", col(Streetlight.id), col(Streetlight.device_id)),
        (Sensor, "sensor", col(Sensor.id), col(Sensor.id)),
    )
    for model, kind, key, device in devices:
        last_seen_at = col(model.last_seen_at)
        # Only devices silent for longer than the shortest period allows are read (this runs in
        # the write lock every few seconds: 20,000 fresh lights must not be read each time).
        shortest = session.scalar(
            select(func.min(col(model.reporting_period_s))).where(col(model.offline).is_(False))
        )
        if shortest is None:
            continue
        rows = session.execute(
            sa.select(
                key,
                device,
                last_seen_at,
                col(model.reporting_period_s),
                col(model.territory_id),
            ).where(
                col(model.offline).is_(False),
                last_seen_at.is_not(None),
                last_seen_at < now - dt.timedelta(seconds=max(0, shortest) * periods),
            )
        ).all()
        late = [
            (row[0], row[1], row[4])
            for row in rows
            if row[2] + dt.timedelta(seconds=row[3] * periods) < now
        ]
        for part in chunks([r[0] for r in late]):
            session.execute(
                update(model)
                .where(key.in_(part))
                .values(offline=True)
                .execution_options(synchronize_session=False)
            )
        events.publish_many(
            session,
            [
                (
                    "lights" if kind == "light" else "sensors",
                    row_id,
                    "offline",
                    {"state": "offline"},
                    territory_id,
                )
                for row_id, _device_id, territory_id in late
            ],
        )
        for _id, device_id, _territory_id in late:
            raise_alarm(session, device_id, "offline", now, device_kind=kind)
            went.append(device_id)
    return went


def is_offline(
    last_seen_at: dt.datetime | None,
    period_s: int,
    now: dt.datetime,
    periods: int = OFFLINE_PERIODS,
) -> bool:
    return (
        last_seen_at is not None and last_seen_at + dt.timedelta(seconds=period_s * periods) < now
    )


# --------------------------------------------------------------------------- history


def roll_up(
    session: Session,
    now: dt.datetime,
    *,
    raw_days: int = 2,
    hourly_days: int = 35,
    limit: int = 5_000,
) -> tuple[int, int]:
    """Downsample, one bounded step: drop up to ``limit`` raw readings (and sensor measures) older than
    ``raw_days`` (their hours are kept) and fold up to ``limit`` hours older than ``hourly_days`` into
    days. Returns (raw rows dropped, hours folded); call again in a new transaction while either is
    ``limit`` (``roll_up_all``), so the write lock is never held long."""
    from app.models.lighting import LightReading
    from app.models.sensors import SensorMeasure

    raw_cut = now - dt.timedelta(days=raw_days)
    readings = table_of(LightReading)
    measures = table_of(SensorMeasure)
    dropped = session.exec(
        readings.delete().where(
            readings.c.id.in_(
                select(readings.c.id)
                .where(readings.c.ts < raw_cut)
                .order_by(readings.c.ts)
                .limit(limit)
                .scalar_subquery()
            )
        )
    ).rowcount
    measured = session.exec(
        measures.delete().where(
            measures.c.id.in_(
                select(measures.c.id)
                .where(measures.c.ts < raw_cut)
                .order_by(measures.c.ts)
                .limit(limit)
                .scalar_subquery()
            )
        )
    ).rowcount
    hour_cut = (now - dt.timedelta(days=hourly_days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    hours = session.execute(
        sa.select(
            col(LightHourly.id),
            col(LightHourly.light_id),
            col(LightHourly.hour),
            col(LightHourly.samples),
            col(LightHourly.level_sum),
            col(LightHourly.power_sum_w),
            col(LightHourly.energy_wh),
            col(Streetlight.territory_id),
        )
        .outerjoin(Streetlight, col(Streetlight.id) == col(LightHourly.light_id))
        .where(col(LightHourly.hour) < hour_cut)
        .order_by(col(LightHourly.hour))
        .limit(limit)
    ).all()
    days: dict[tuple[str, dt.date], list[float]] = {}
    zone_of = zones(session).of  # a light's days are its territory's
    for row in hours:
        day = row.hour.astimezone(zone_of(row.territory_id)).date()
        cell = days.setdefault((row.light_id, day), [0, 0.0, 0.0, 0.0])
        cell[0] += row.samples
        cell[1] += row.level_sum
        cell[2] += row.power_sum_w
        cell[3] += row.energy_wh
    if days:
        upsert(
            session,
            LightDaily,
            ["light_id", "day"],
            [
                {
                    "light_id": light_id,
                    "day": day,
                    "samples": int(c[0]),
                    "level_sum": c[1],
                    "power_sum_w": c[2],
                    "energy_wh": c[3],
                }
                for (light_id, day), c in days.items()
            ],
            add=["samples", "level_sum", "power_sum_w", "energy_wh"],
        )
        for part in chunks([row.id for row in hours]):
            session.execute(table_of(LightHourly).delete().where(col(LightHourly.id).in_(part)))
    return max(int(dropped or 0), int(measured or 0)), len(hours)


def roll_up_all(
    engine: Engine,
    now: dt.datetime,
    *,
    limit: int = 5_000,
    max_steps: int = 200,
    pause_s: float = 0.0,
) -> tuple[int, int]:
    """Run ``roll_up`` step after step, each in its own short write transaction, until it is done."""
    total_dropped = total_folded = 0
    for _step in range(max_steps):
        with write_session(engine) as session:
            dropped, folded = roll_up(session, now, limit=limit)
        total_dropped += dropped
        total_folded += folded
        if dropped < limit and folded < limit:
            break
        if pause_s:
            time.sleep(pause_s)
    return total_dropped, total_folded
