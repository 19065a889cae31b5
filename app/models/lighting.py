"""Public lighting: inventory, programs, overrides, commands, telemetry, alarms.

- ``light_cabinets``, ``light_groups``, ``streetlights``: the inventory. Ids are
  text (``CAB-AUD-01``, ``AUD-GARE``, ``SL-AUD-0001``): they end the NGSI-LD
  URNs and the CLI takes them. A light's ``device_id`` names its MQTT topics.
- Per light, TALQ's three values: the target (``target_*``: the last command
  Eclor decided), the command in effect (``effect_*``: the last command the
  device acknowledged as applied) and the actual state (``actual_level``,
  ``power_w``, ``status``, ``last_seen_at``: from telemetry).
- ``light_programs`` and ``light_calendars`` keep their definition as JSON
  (``app.lighting.programs.Program.to_dict`` / ``Calendar.to_dict``), validated by
  ``app.lighting.programs`` before they are stored.
- ``light_overrides``: a staff override of a group or a light, with its expiry;
  a new one replaces the previous one of the same target.
- ``light_commands``: one row per command and device, written in the same
  transaction as the decision (outbox), then published by the relay.
- ``light_readings`` (raw, kept a few days), ``light_hourly`` (kept weeks) and
  ``light_daily`` (kept): the telemetry time series, downsampled, never dropped.
- ``light_alarms``: faults and offline devices, open until cleared.
- ``light_energy_months``: measured energy per group and local month, added to
  as telemetry is ingested, so the energy page never reads the history.
- ``light_energy_models``: the modelled energy of one lamp for a month under a
  program and calendar (or a baseline), keyed by what it depends on; a past
  month is computed once, the current one again after an hour.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import utcnow
from app.models.territory import DEFAULT_TERRITORY, territory_field

COMMAND_STATES = (
    "queued",  # decided, not published yet
    "sent",  # published to the broker, no answer yet
    "accepted",  # the device took it (ramping)
    "applied",  # the device reached the level
    "failed",  # the device rejected it
    "expired",  # its expiry passed before it was applied
    "cancelled",  # withdrawn before it was applied
    "superseded",  # a newer command for the same light replaced it
)
OPEN_COMMAND_STATES = ("queued", "sent", "accepted")


class LightCabinet(SQLModel, table=True):
    __tablename__ = "light_cabinets"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    commune_insee: str | None = Field(default=None, max_length=5)
    territory_id: int | None = territory_field()  # its commune's (app.lighting.scope)
    lat: float | None = None
    lon: float | None = None
    working_mode: str = Field(default="automatic", max_length=20)


class LightProgram(SQLModel, table=True):
    __tablename__ = "light_programs"
    # Named once per territory: two territories may each have their own "Nuit".
    __table_args__ = (UniqueConstraint("territory_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    definition: str = Field(sa_column=Column(Text, nullable=False))  # Program.to_dict() as JSON
    territory_id: int | None = territory_field()  # the territory whose staff wrote it
    updated_at: datetime = Field(default_factory=utcnow)
    # No longer offered to groups and calendars; those that use it keep working until changed.
    archived_at: datetime | None = Field(default=None)


class LightCalendar(SQLModel, table=True):
    __tablename__ = "light_calendars"
    # Named once per territory: two territories may each have their own "Nuit".
    __table_args__ = (UniqueConstraint("territory_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    definition: str = Field(sa_column=Column(Text, nullable=False))  # Calendar.to_dict() as JSON
    territory_id: int | None = territory_field()  # the territory whose staff wrote it
    updated_at: datetime = Field(default_factory=utcnow)


class LightGroup(SQLModel, table=True):
    __tablename__ = "light_groups"
    __table_args__ = (  # the overview lists the groups by commune and name, a page at a time
        Index("ix_light_groups_commune_name", "commune_insee", "name", "id"),
        # A territory's groups, in the overview's order.
        Index("ix_light_groups_territory_name", "territory_id", "commune_insee", "name", "id"),
    )

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    commune_insee: str | None = Field(default=None, max_length=5, index=True)
    territory_id: int | None = territory_field()  # its commune's (app.lighting.scope)
    cabinet_id: str | None = Field(
        default=None, foreign_key="light_cabinets.id", max_length=64, index=True
    )
    program_id: int | None = Field(default=None, foreign_key="light_programs.id")
    calendar_id: int | None = Field(default=None, foreign_key="light_calendars.id")


class Streetlight(SQLModel, table=True):
    __tablename__ = "streetlights"
    __table_args__ = (  # the lights' state counted per commune from the index alone
        Index(
            "ix_streetlights_commune_state", "commune_insee", "status", "offline", "actual_level"
        ),
        # The lamps per group and wattage (the energy page), counted from the index alone.
        Index("ix_streetlights_group_nominal", "group_id", "nominal_w"),
        Index("ix_streetlights_technology", "technology"),  # the lamps per technology
        # A territory's lamps per technology (the energy page), from the index alone.
        Index("ix_streetlights_territory_technology", "territory_id", "technology"),
        # A territory's lights a page at a time in id order (NGSI-LD), with no sort of the fleet.
        Index("ix_streetlights_territory_id_id", "territory_id", "id"),
        # A territory's lamps per group and wattage (the energy page), read from the index alone.
        Index("ix_streetlights_territory_group_nominal", "territory_id", "group_id", "nominal_w"),
    )

    id: str = Field(primary_key=True, max_length=64)
    device_id: str = Field(max_length=64, unique=True)
    group_id: str | None = Field(
        default=None, foreign_key="light_groups.id", max_length=64, index=True
    )
    cabinet_id: str | None = Field(
        default=None, foreign_key="light_cabinets.id", max_length=64, index=True
    )
    commune_insee: str | None = Field(default=None, max_length=5)
    # Its commune's territory (app.lighting.scope); commands and pages stay inside it.
    territory_id: int | None = Field(
        default=None,
        foreign_key="territories.id",
        nullable=False,
        sa_column_kwargs={"default": DEFAULT_TERRITORY},
    )
    street: str = Field(default="", max_length=200)
    lat: float
    lon: float
    model: str = Field(default="", max_length=120)
    technology: str = Field(default="LED", max_length=20)  # LED, HPS, MH, CFL...
    nominal_w: float = 70.0
    circuit: str = Field(default="", max_length=64)
    reporting_period_s: int = 60
    # TALQ: target command
    target_level: int | None = None
    target_reason: str | None = Field(default=None, max_length=12)
    target_command_id: str | None = Field(default=None, max_length=40)
    target_expires_at: datetime | None = None
    # TALQ: command in effect (acknowledged as applied)
    effect_level: int | None = None
    effect_reason: str | None = Field(default=None, max_length=12)
    effect_at: datetime | None = None
    # TALQ: actual state (telemetry)
    actual_level: int | None = None
    power_w: float | None = None
    energy_wh: float | None = None
    status: str = Field(default="ok", max_length=20)
    last_seen_at: datetime | None = None
    offline: bool = False
    last_switch_on_at: datetime | None = None
    last_switch_off_at: datetime | None = None


class LightOverride(SQLModel, table=True):
    __tablename__ = "light_overrides"
    __table_args__ = (Index("ix_light_overrides_target", "scope", "target_id", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=8)  # group | light
    target_id: str = Field(max_length=64)
    level: int
    expires_at: datetime | None = None
    state: str = Field(default="active", max_length=12)  # active, replaced, cancelled, expired
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class LightCommand(SQLModel, table=True):
    __tablename__ = "light_commands"
    __table_args__ = (
        Index("ix_light_commands_due", "state", "next_attempt_at"),
        Index("ix_light_commands_light", "light_id", "state"),
        Index(
            "ix_light_commands_light_issued", "light_id", "issued_at"
        ),  # a light's or group's history
        Index("ix_light_commands_finished", "finished_at"),  # retention
    )

    id: int | None = Field(default=None, primary_key=True)
    command_id: str = Field(max_length=40, unique=True)
    light_id: str = Field(foreign_key="streetlights.id", max_length=64, ondelete="CASCADE")
    device_id: str = Field(max_length=64)
    override_id: int | None = Field(
        default=None, foreign_key="light_overrides.id", ondelete="SET NULL"
    )
    level: int
    ramp_s: int = 0
    reason: str = Field(max_length=12)  # override, program, sensor
    state: str = Field(default="queued", max_length=12)
    issued_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    claimed_by: str | None = Field(default=None, max_length=64)
    sent_at: datetime | None = None
    accepted_at: datetime | None = None
    finished_at: datetime | None = None
    actual_level: int | None = None
    last_error: str | None = Field(default=None, max_length=200)


class LightReading(SQLModel, table=True):
    __tablename__ = "light_readings"
    __table_args__ = (Index("ix_light_readings_light_ts", "light_id", "ts"),)

    id: int | None = Field(default=None, primary_key=True)
    light_id: str = Field(max_length=64)
    ts: datetime = Field(index=True)
    level: int | None = None
    power_w: float | None = None
    energy_wh: float | None = None
    status: str = Field(default="ok", max_length=20)


class LightHourly(SQLModel, table=True):
    __tablename__ = "light_hourly"
    __table_args__ = (UniqueConstraint("light_id", "hour", name="uq_light_hourly"),)

    id: int | None = Field(default=None, primary_key=True)
    light_id: str = Field(max_length=64)
    hour: datetime = Field(index=True)  # start of the UTC hour
    samples: int = 0
    level_sum: float = 0.0
    power_sum_w: float = 0.0
    energy_wh: float = 0.0  # increase of the device's energy counter within the hour


class LightDaily(SQLModel, table=True):
    __tablename__ = "light_daily"
    __table_args__ = (UniqueConstraint("light_id", "day", name="uq_light_daily"),)

    id: int | None = Field(default=None, primary_key=True)
    light_id: str = Field(max_length=64)
    day: date = Field(index=True)  # UTC day
    samples: int = 0
    level_sum: float = 0.0
    power_sum_w: float = 0.0
    energy_wh: float = 0.0


class LightAlarm(SQLModel, table=True):
    __tablename__ = "light_alarms"
    __table_args__ = (
        Index("ix_light_alarms_open", "device_id", "kind", "cleared_at"),
        Index(
            "ix_light_alarms_cleared_raised", "cleared_at", "raised_at"
        ),  # open alarms, newest first; retention
        Index("ix_light_alarms_raised", "raised_at"),  # every alarm, newest first
        # A territory's open alarms and all its alarms, newest first.
        Index("ix_light_alarms_territory_open", "territory_id", "cleared_at", "raised_at"),
        Index("ix_light_alarms_territory_raised", "territory_id", "raised_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(max_length=64)
    device_kind: str = Field(default="light", max_length=12)  # light | sensor
    # The device's territory (app.device_alarms): each territory's staff see their own.
    territory_id: int | None = Field(
        default=None,
        foreign_key="territories.id",
        nullable=False,
        sa_column_kwargs={"default": DEFAULT_TERRITORY},
    )
    kind: str = Field(max_length=30)  # offline, defectiveLamp, columnIssue, brokenLantern, ...
    severity: str = Field(default="major", max_length=10)
    raised_at: datetime = Field(default_factory=utcnow)
    cleared_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class LightLampCount(SQLModel, table=True):
    """How many lights each territory has per program, calendar (their group's; 0 for none),
    wattage and technology, kept by triggers on ``streetlights`` (every insert, delete and change of
    territory, group, wattage or technology, whatever writes it) and on ``light_groups`` (a change of
    program or calendar moves its lights; migration 0043_lighting_energy_sources): the energy page
    reads these few rows instead of counting the fleet or its groups."""

    __tablename__ = "light_lamp_counts"

    territory_id: int = Field(primary_key=True)
    program_id: int = Field(primary_key=True)
    calendar_id: int = Field(primary_key=True)
    nominal_w: float = Field(primary_key=True)
    technology: str = Field(primary_key=True, max_length=20)
    lamps: int = 0


class LightTerritoryEnergy(SQLModel, table=True):
    """The measured energy per territory and local month: the sum of its groups' rows of
    ``light_energy_months``, kept by triggers on that table and on ``light_groups`` (migration
    0043_lighting_energy_sources). Lights outside any group have no territory there."""

    __tablename__ = "light_territory_energy"

    territory_id: int = Field(primary_key=True)
    month: str = Field(primary_key=True, max_length=7)
    energy_wh: float = 0.0


class LightEnergyMonth(SQLModel, table=True):
    __tablename__ = "light_energy_months"
    __table_args__ = (
        UniqueConstraint("month", "group_id", name="uq_light_energy_months"),
        # The fleet's measured energy of a month, summed from the index alone.
        Index("ix_light_energy_months_month_wh", "month", "energy_wh"),
    )

    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(max_length=7)  # YYYY-MM in the territory's time zone
    group_id: str = Field(default="", max_length=64)  # "" for lights outside any group
    energy_wh: float = 0.0


class LightEnergyModel(SQLModel, table=True):
    __tablename__ = "light_energy_models"
    __table_args__ = (
        UniqueConstraint("source_key", "nominal_w", "month", name="uq_light_energy_models"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_key: str = Field(
        max_length=80
    )  # digest of program + calendar + position, or baseline:<key>
    nominal_w: float
    month: str = Field(max_length=7)
    kwh: float  # one lamp, from the start of the month to ``through``
    through: datetime  # end of what was computed (the month's end once the month is over)
