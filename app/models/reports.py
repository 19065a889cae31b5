"""Dump-site reports: the report, its photos and history, followers, thanks, and staff lists.

The reporter's identity and contact stay with staff: public pages, Open311
and open data only see the report itself (category, coarse place,
description, photos, status).
"""

from __future__ import annotations

from datetime import datetime

from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlmodel import Field, SQLModel

from app.db import utcnow
from app.models.territory import (  # a report without commune: the default one
    DEFAULT_TERRITORY,
    territory_field,
)

# The categories every territory starts with: (code, French label, French hint). The labels and
# hints are gettext's source strings (app.reports.catalogue marks them for translation), so a built-in
# category is shown in the reader's language; a territory's staff may add their own
# (``report_categories``), rename, reorder and archive them.
DEFAULT_REPORT_CATEGORIES = (
    ("household_waste", "Ordures ménagères", "Sacs poubelle, déchets du quotidien"),
    ("bulky_items", "Encombrants", "Meubles, matelas, électroménager"),
    ("rubble", "Gravats", "Gravats, plâtre, déchets de chantier"),
    ("green_waste", "Déchets verts", "Tontes, branches, souches"),
    ("tyres", "Pneus", "Pneus, jantes"),
    ("hazardous", "Produits dangereux", "Bidons, peintures, amiante, batteries : n’y touchez pas"),
    ("other", "Autre", "Tout le reste"),
)
# Their codes: what a territory declared without its own list (a settings file's bodies) checks.
REPORT_CATEGORIES = tuple(code for code, _label, _hint in DEFAULT_REPORT_CATEGORIES)


class ReportCategory(SQLModel, table=True):
    """A category of dump-site report a territory offers (app.reports.categories). Its code is what
    reports, Open311 (``service_code``), bodies and maintenance rules name; unique within the
    territory, never changed. An archived category is no longer offered; its reports keep it."""

    __tablename__ = "report_categories"
    __table_args__ = (
        UniqueConstraint("territory_id", "code", name="uq_report_categories_territory_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int | None = territory_field()
    code: str = Field(max_length=32)
    label: str = Field(max_length=80)
    hint: str = Field(default="", max_length=200)
    position: int = Field(default=0)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)


class Report(SQLModel, table=True):
    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_status_created", "status", "created_at"),
        Index("ix_reports_lat_lon", "lat", "lon"),
        Index("ix_reports_created", "created_at"),  # lists newest first, statistics since a date
        Index("ix_reports_updated", "updated_at"),  # the operations centre's layer and its version
        Index("ix_reports_status_commune", "status", "commune_insee"),  # open reports per commune
        Index("ix_reports_status_resolved", "status", "resolved_at", "commune_insee", "created_at"),
        # The statistics of a window, counted from the index alone (``app.reports.exports.stats``).
        Index(
            "ix_reports_stats", "status", "created_at", "category", "commune_insee", "resolved_at"
        ),
        # Every list of a territory's reports, newest first (app.reports.catalogue.scoped).
        Index("ix_reports_territory_created", "territory_id", "created_at"),
        # A territory's reports in one state: the board's count per state and its state filter
        # read one index range (with the territory alone, a rare state walked every report).
        Index("ix_reports_territory_status", "territory_id", "status", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=32, index=True)
    status: str = Field(default="new", max_length=16)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    volume: str | None = Field(default=None, max_length=16)
    witnessed: bool = Field(default=False)
    lat: float
    lon: float
    approximate: bool = Field(default=False)  # placed at the commune's centre, no precise position
    address: str = Field(default="", max_length=200)  # the reporter's words ("derrière le stade")
    address_id: str | None = Field(default=None, max_length=40)  # BAN id, when placed by it
    commune_insee: str | None = Field(
        default=None, foreign_key="communes.insee", max_length=5, index=True
    )
    # The territory responsible: its commune's (a report placed across a border is handed over).
    territory_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("territories.id"),
            nullable=False,
            default=DEFAULT_TERRITORY,
        ),
    )
    # The body inside the territory that handles it (app.bodies.responsible); None: the territory.
    body_id: int | None = Field(
        default=None, foreign_key="bodies.id", index=True, ondelete="SET NULL"
    )
    reporter_id: int | None = Field(
        default=None, foreign_key="users.id", index=True, ondelete="SET NULL"
    )
    contact_email: str | None = Field(
        default=None, max_length=254
    )  # Open311 reports without an account
    contact_name: str | None = Field(default=None, max_length=160)
    source: str = Field(default="web", max_length=16)  # web, open311, staff
    api_key_id: int | None = Field(
        default=None, foreign_key="report_api_keys.id", ondelete="SET NULL"
    )
    idempotency_key: str | None = Field(default=None, max_length=64, unique=True)
    token: str | None = Field(default=None, max_length=64, unique=True)  # Open311 token
    duplicate_of_id: int | None = Field(default=None, foreign_key="reports.id", ondelete="SET NULL")
    reject_reason_id: int | None = Field(
        default=None, foreign_key="report_reject_reasons.id", ondelete="SET NULL"
    )
    status_notes: str = Field(default="", max_length=2000)  # the last public word from staff
    thanks_count: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
    expected_at: datetime | None = None  # when the collection is scheduled


@event.listens_for(Report, "before_insert")
def _territory_of_commune(_mapper: Any, connection: Any, report: Report) -> None:
    """A report written without its territory takes its commune's (intake sets it itself; this
    covers the other writers of the ORM: the demo, tests)."""
    if report.territory_id is None and report.commune_insee:
        found = connection.execute(
            text("SELECT territory_id FROM communes WHERE insee = :insee"),
            {"insee": report.commune_insee},
        ).scalar()
        if found is not None:
            report.territory_id = int(found)


class ReportPhoto(SQLModel, table=True):
    __tablename__ = "report_photos"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="reports.id", index=True, ondelete="CASCADE")
    kind: str = Field(default="overview", max_length=16)  # overview, after
    display_name: str = Field(max_length=64, unique=True)
    thumb_name: str = Field(max_length=64, unique=True)
    width: int
    height: int
    sha256: str = Field(max_length=64)
    uploaded_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class ReportEvent(SQLModel, table=True):
    """One line of a report's history. ``public`` lines are shown to the reporter and followers."""

    __tablename__ = "report_events"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="reports.id", index=True, ondelete="CASCADE")
    at: datetime = Field(default_factory=utcnow)
    actor_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    kind: str = Field(max_length=16)  # created, status, note, category, moved, reopened, photo
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    public: bool = Field(default=True)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))


class ReportFollow(SQLModel, table=True):
    __tablename__ = "report_follows"

    report_id: int = Field(foreign_key="reports.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", primary_key=True, index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


class ReportThanks(SQLModel, table=True):
    __tablename__ = "report_thanks"

    report_id: int = Field(foreign_key="reports.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", primary_key=True, index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


# The reasons a new territory starts with (its staff change them in the reports' settings).
DEFAULT_REJECT_REASONS = (
    "Hors du territoire de la communauté de communes",
    "Terrain privé : le propriétaire a été informé",
    "Dépôt introuvable à l'adresse indiquée",
    "Ne relève pas des dépôts sauvages (voirie, éclairage...)",
    "Signalement abusif ou sans rapport",
)


class RejectReason(SQLModel, table=True):
    """A reason staff pick when rejecting a report (a managed list, each territory its own)."""

    __tablename__ = "report_reject_reasons"
    __table_args__ = (
        UniqueConstraint("territory_id", "label", name="uq_report_reject_reasons_territory_label"),
    )

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int | None = territory_field()
    label: str = Field(max_length=200)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)


class ResponseTemplate(SQLModel, table=True):
    """A prepared answer staff can insert when they change a report's status (per territory)."""

    __tablename__ = "report_response_templates"

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int | None = territory_field()
    title: str = Field(max_length=120)
    body: str = Field(max_length=2000)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)


class ReportApiKey(SQLModel, table=True):
    """An Open311 API key issued by staff. Only its SHA-256 is stored; ``prefix`` helps recognise it."""

    __tablename__ = "report_api_keys"

    id: int | None = Field(default=None, primary_key=True)
    # The territory whose staff issued it: it is accepted on that territory's hosts only.
    territory_id: int | None = territory_field()
    name: str = Field(max_length=120)
    key_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class BanAddress(SQLModel, table=True):
    """One address of the national address base (BAN), as the territory loads it.

    Open311 partners place a report by ``address_id`` (the BAN id) or by an
    ``address_string`` looked up here: no network at request time.
    """

    __tablename__ = "ban_addresses"

    id: str = Field(primary_key=True, max_length=40)  # BAN id: 57038_0150_00012
    commune_insee: str = Field(max_length=5, index=True)
    commune_name: str = Field(max_length=120)
    postcode: str = Field(max_length=5)
    number: int | None = None
    rep: str = Field(default="", max_length=10)  # bis, ter, a…
    street: str = Field(max_length=200)
    street_key: str = Field(max_length=200, index=True)  # lower case, no accents, one space
    lat: float
    lon: float
    source: str = Field(default="", max_length=40)  # the BAN's source_position, "demo" here


class ReportMonthCount(SQLModel, table=True):
    """Reports per creation month (UTC, ``YYYY-MM``), state, category and commune (``""``: none).

    Kept by the database itself: triggers on ``reports`` (migration 0037) add and take away one on
    every insert, change and delete, whatever writes it; the statistics page reads these rows, not
    the reports of its window.
    """

    __tablename__ = "report_month_counts"

    month: str = Field(primary_key=True, max_length=7)
    status: str = Field(primary_key=True, max_length=16)
    category: str = Field(primary_key=True, max_length=32)
    commune_insee: str = Field(primary_key=True, max_length=5)
    reports: int = 0


class ReportResolveCount(SQLModel, table=True):
    """Resolved reports per creation month and time to resolve, in tenths of a day (rounded down,
    2.4 h steps; a negative time counts as 0): the median time to resolve read from these counts.
    Kept by the same triggers as ``report_month_counts``."""

    __tablename__ = "report_resolve_counts"

    month: str = Field(primary_key=True, max_length=7)
    tenths: int = Field(primary_key=True)
    reports: int = 0
