"""Open data per territory: what staff chose to publish, the snapshots' freshness, uploaded datasets, downloads, errors.

- ``opendata_settings``: one row per dataset whose publication staff changed
  (no row: the dataset's default).
- ``opendata_snapshots``: when each dataset's files were last generated, rows and bytes.
- ``opendata_uploads``: datasets staff added from a CSV or GeoJSON file, with their Table Schema.
- ``opendata_downloads``: downloads per dataset, format and day (counts only, no reader).
- ``opendata_issues``: errors readers reported on a dataset, and staff's answer.

Every row belongs to a territory (``territory_id``): each territory publishes its own datasets,
from its own rows, under its own choices; a dataset's slug names it within its territory.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import utcnow
from app.models.territory import territory_field


class OpenDataSetting(SQLModel, table=True):
    __tablename__ = "opendata_settings"

    territory_id: int = Field(foreign_key="territories.id", primary_key=True)
    slug: str = Field(primary_key=True, max_length=80)
    published: bool = True
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class OpenDataSnapshot(SQLModel, table=True):
    __tablename__ = "opendata_snapshots"

    territory_id: int = Field(foreign_key="territories.id", primary_key=True)
    slug: str = Field(primary_key=True, max_length=80)
    generated_at: datetime
    rows: int = 0
    csv_bytes: int = 0
    geojson_bytes: int = 0
    duration_ms: int = 0
    first_day: date | None = None  # temporal coverage, when the dataset has a date column
    last_day: date | None = None


class OpenDataUpload(SQLModel, table=True):
    __tablename__ = "opendata_uploads"
    __table_args__ = (UniqueConstraint("territory_id", "slug", name="uq_opendata_uploads"),)

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int | None = territory_field()
    slug: str = Field(max_length=80)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    theme: str = Field(default="GOVE", max_length=8)
    keywords: str = Field(default="", max_length=300)
    frequency: str = Field(default="IRREG", max_length=10)
    table_schema: str = Field(sa_column=Column(Text, nullable=False))  # Table Schema JSON
    rows: int = 0
    uploaded_at: datetime = Field(default_factory=utcnow)
    uploaded_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class OpenDataDownload(SQLModel, table=True):
    __tablename__ = "opendata_downloads"
    __table_args__ = (
        UniqueConstraint("territory_id", "slug", "fmt", "day", name="uq_opendata_downloads"),
    )

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int | None = territory_field()
    slug: str = Field(max_length=80, index=True)
    fmt: str = Field(max_length=12)  # csv, geojson, schema, live
    day: date
    count: int = 0


class OpenDataIssue(SQLModel, table=True):
    __tablename__ = "opendata_issues"

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int | None = territory_field()
    slug: str = Field(max_length=80, index=True)
    body: str = Field(max_length=2000)  # the reader's words: shown to staff only
    reporter_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    status: str = Field(default="open", max_length=10)  # open, answered
    answer: str = Field(default="", max_length=2000)  # staff's public answer
    created_at: datetime = Field(default_factory=utcnow)
    answered_at: datetime | None = None
    answered_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
