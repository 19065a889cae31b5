"""Maintenance: rules that staff write, the alarms they raise, and the work orders that fix them.

- ``maintenance_rules``: a condition on a measure of a device, a device's status, or residents'
  reports, with a duration, a severity, a commune scope, a quiet period and an action.
- ``maintenance_conditions``: a rule's condition that holds now for one subject (since when), kept
  until it ends; an alarm is raised once it has held for the rule's duration.
- ``maintenance_alarms``: one per rule and ongoing condition (a partial unique index says so),
  open → acknowledged → cleared; ``maintenance_alarm_comments`` is its internal thread.
- ``maintenance_cursors``: how far the worker has read the event outbox.
- ``maintenance_work_orders`` with their reports, photos and the teams' members.

Rules, alarms, work orders, teams and watches belong to a territory (``territory_id``): an alarm to
its rule's, a work order to its alarm's or to the territory whose staff made it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, ForeignKeyConstraint, Index, Text, text
from sqlmodel import Field, SQLModel

from app.db import utcnow
from app.models.territory import DEFAULT_TERRITORY, territory_field

NOT_CLEARED = text("state IN ('open', 'acknowledged')")
# The values a rule's columns take (app.maintenance.rules says what each means; a territory's bundle,
# app.territory_setup, is checked against them).
RULE_KINDS = ("measure", "status", "silence", "cluster", "overdue", "yield", "night_flow")
RULE_LAYERS = ("", "sensors", "lights", "groups", "cabinets", "alarms", "reports")
RULE_OPS = (">=", ">", "<=", "<", "=")
SEVERITY_NAMES = ("info", "minor", "major", "critical")
# The four trades every territory starts with (the migration that made the table seeded them for the
# first territory; a new territory gets them unless its bundle brings its own teams).
DEFAULT_TEAMS = (
    ("voirie", "Voirie"),
    ("eclairage", "Éclairage"),
    ("dechets", "Déchets"),
    ("espaces_verts", "Espaces verts"),
)


class MaintenanceRule(SQLModel, table=True):
    __tablename__ = "maintenance_rules"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    # measure: a number of a sensor or light; status: a light's status or offline;
    # silence: no reading for twice the expected period; cluster / overdue: residents' reports.
    kind: str = Field(max_length=16)
    layer: str = Field(default="", max_length=40)  # sensors, lights (measure, status, silence)
    subject: str = Field(default="", max_length=64)  # a device id, a sensor kind, or "" for any
    measure: str = Field(default="", max_length=40)  # queue, pm25, speed... ; status: the status
    op: str = Field(default=">=", max_length=2)  # >=, >, <=, <, =
    threshold: float = 0.0
    category: str = Field(default="", max_length=32)  # reports: the category, "" for any
    count: int = 3  # cluster: how many reports
    radius_m: int = 200  # cluster: within how many metres
    days: int = 7  # cluster: within how many days; overdue: the deadline in days
    duration_s: int = 0  # how long the condition holds before the alarm is raised
    severity: str = Field(default="minor", max_length=10)  # info, minor, major, critical
    commune_insee: str | None = Field(default=None, foreign_key="communes.insee", max_length=5)
    quiet_s: int = 0  # after an alarm clears, none again for this long
    prepare_alert: bool = False  # prepare an alert to residents, for staff to review and send
    alert_title: str = Field(default="", max_length=120)
    team: str = Field(default="", max_length=20)  # the team that handles its alarms, "" for none
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    territory_id: int | None = territory_field()  # the default territory when none is given


class MaintenanceCondition(SQLModel, table=True):
    __tablename__ = "maintenance_conditions"

    rule_id: int = Field(foreign_key="maintenance_rules.id", primary_key=True, ondelete="CASCADE")
    subject: str = Field(primary_key=True, max_length=120)
    since: datetime  # the first reading of this run of the condition
    last_at: datetime


class MaintenanceAlarm(SQLModel, table=True):
    __tablename__ = "maintenance_alarms"
    __table_args__ = (
        Index(
            "ux_maintenance_alarms_ongoing",
            "rule_id",
            "subject",
            unique=True,
            sqlite_where=NOT_CLEARED,
            postgresql_where=NOT_CLEARED,
        ),
        Index("ix_maintenance_alarms_state_last", "state", "last_seen"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int | None = Field(
        default=None, foreign_key="maintenance_rules.id", ondelete="SET NULL"
    )
    subject: str = Field(max_length=120)  # what it is about: a device id, a report cluster
    source: str = Field(max_length=40)  # the layer: sensors, lights, reports
    feature_id: str = Field(default="", max_length=120)  # the feature on that layer
    title: str = Field(max_length=200)
    severity: str = Field(max_length=10)
    commune_insee: str | None = Field(default=None, foreign_key="communes.insee", max_length=5)
    lat: float | None = None
    lon: float | None = None
    state: str = Field(default="open", max_length=12)  # open, acknowledged, cleared
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    value: str = Field(default="", max_length=80)  # the last value that met the condition
    assignee_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    acknowledged_at: datetime | None = None
    acknowledged_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    cleared_at: datetime | None = None
    cleared_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    cleared_why: str = Field(default="", max_length=16)  # ended, staff, work_order
    alert_title: str = Field(default="", max_length=120)  # a prepared alert, never sent by a rule
    alert_body: str = Field(default="", max_length=600)
    # what staff filter on: the report category or the device kind (air_quality, light...), the team
    category: str = Field(default="", max_length=40)
    team: str = Field(default="", max_length=20)
    territory_id: int | None = territory_field()  # the default territory when none is given


class MaintenanceAlarmComment(SQLModel, table=True):
    __tablename__ = "maintenance_alarm_comments"

    id: int | None = Field(default=None, primary_key=True)
    alarm_id: int = Field(foreign_key="maintenance_alarms.id", index=True, ondelete="CASCADE")
    author_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    text: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(default_factory=utcnow)


class MaintenanceCursor(SQLModel, table=True):
    __tablename__ = "maintenance_cursors"

    name: str = Field(primary_key=True, max_length=40)
    last_event_id: int = 0
    checked_at: datetime | None = None  # the last periodic check (silence, overdue reports)


class MaintenanceTeam(SQLModel, table=True):
    """A team of staff grouped by trade (voirie, éclairage, déchets, espaces verts...). Its code is
    unique within its territory: two territories may each have their ``voirie``. A work order, an
    alarm, a rule and a watch name a team by its code, in their own territory."""

    __tablename__ = "maintenance_teams"

    territory_id: int | None = Field(
        default=None,
        foreign_key="territories.id",
        primary_key=True,
        sa_column_kwargs={"default": DEFAULT_TERRITORY},
    )
    code: str = Field(primary_key=True, max_length=20)
    name: str = Field(max_length=60)
    active: bool = True  # an archived team takes no new work order; its old ones keep it
    created_at: datetime = Field(default_factory=utcnow)


class MaintenanceTeamMember(SQLModel, table=True):
    __tablename__ = "maintenance_team_members"
    __table_args__ = (
        ForeignKeyConstraint(
            ["territory_id", "team"],
            ["maintenance_teams.territory_id", "maintenance_teams.code"],
            ondelete="CASCADE",
        ),
    )

    territory_id: int = Field(primary_key=True)  # the team's territory
    team: str = Field(primary_key=True, max_length=20)  # voirie, eclairage, dechets, espaces_verts
    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")


class WorkOrder(SQLModel, table=True):
    __tablename__ = "maintenance_work_orders"
    __table_args__ = (
        Index("ix_maintenance_work_orders_state_due", "state", "due_on"),
        Index("ix_maintenance_work_orders_assignee_due", "assignee_id", "due_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=160)
    team: str = Field(max_length=20)
    assignee_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    due_on: date | None = None
    place: str = Field(default="", max_length=200)
    lat: float | None = None
    lon: float | None = None
    commune_insee: str | None = Field(default=None, foreign_key="communes.insee", max_length=5)
    state: str = Field(default="new", max_length=12)  # new, planned, in_progress, done, cancelled
    checklist_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    minutes_spent: int = 0
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    alarm_id: int | None = Field(
        default=None, foreign_key="maintenance_alarms.id", ondelete="SET NULL", index=True
    )
    created_at: datetime = Field(default_factory=utcnow)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    signal_at: datetime | None = None  # when the first signal (alarm, report) came
    closed_at: datetime | None = None
    closed_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    territory_id: int | None = territory_field()  # the default territory when none is given


class WorkOrderReport(SQLModel, table=True):
    __tablename__ = "maintenance_order_reports"  # short: constraint names fit in 63 characters

    order_id: int = Field(
        foreign_key="maintenance_work_orders.id", primary_key=True, ondelete="CASCADE"
    )
    report_id: int = Field(foreign_key="reports.id", primary_key=True, ondelete="CASCADE")


class WorkOrderPhoto(SQLModel, table=True):
    __tablename__ = "maintenance_order_photos"  # short: constraint names fit in 63 characters

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="maintenance_work_orders.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=8)  # before, after
    display_name: str = Field(max_length=64, unique=True)
    thumb_name: str = Field(max_length=64, unique=True)
    width: int
    height: int
    sha256: str = Field(max_length=64)
    uploaded_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class MaintenanceWatch(SQLModel, table=True):
    """What a staff member hears about when an alarm is raised (empty lists: everything)."""

    __tablename__ = "maintenance_watches"

    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    communes: str = Field(default="", max_length=200)  # INSEE codes, comma-separated
    severities: str = Field(default="major,critical", max_length=60)
    sources: str = Field(default="", max_length=100)  # sensors, lights, reports
    categories: str = Field(default="", max_length=400)  # report categories or device kinds
    teams: str = Field(default="", max_length=200)  # team codes
    push: bool = True  # on the person's devices (by e-mail when none is subscribed)
    email: bool = True
    digest: bool = False  # one e-mail a day instead of a message at each alarm
    on_call: bool = False  # gets critical alarms whatever the rest says, at any hour
    territory_id: int | None = territory_field()  # the default territory when none is given
