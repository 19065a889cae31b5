"""The territory and its communes: data, not constants, so one install can serve several.

A territory carries what makes an install its own: the host names it answers on, the
languages it offers, its names (full, short, the publishing body), colours, contact and
legal text, the mail sender and the open-data licence. An empty value falls back on the
install's settings (``ECLOR_MAIL_FROM``, ``ECLOR_OPENDATA_*``).

A commune's key (``insee``, 5 characters, referenced from every domain) is its INSEE code
in France; a commune of another country keeps its official code in ``code`` (Luxembourg:
the LAU code ``LU0204``) and takes as key the country's initial followed by the code's
four digits (``L0204``), a key no INSEE code can take (app.territories.commune_key).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint, column, func, select, table, text
from sqlmodel import Field, SQLModel

# The install's default territory (the first one, app.territories.default_territory), as one SQL
# expression in an INSERT: the territory of a row written without one (a bulk insert stays one batch).
DEFAULT_TERRITORY = (
    select(func.min(column("id"))).select_from(table("territories")).scalar_subquery()
)


def territory_field() -> Any:
    """The ``territory_id`` of a row that belongs to a territory: required in the database, given
    the default territory when the code writing it names none."""
    return Field(
        default=None,
        foreign_key="territories.id",
        index=True,
        nullable=False,
        sa_column_kwargs={"default": DEFAULT_TERRITORY},
    )


class Territory(SQLModel, table=True):
    __tablename__ = "territories"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    timezone: str = Field(default="Europe/Paris", max_length=64)
    lat: float
    lon: float
    short_name: str = Field(default="", max_length=60, sa_column_kwargs={"server_default": ""})
    # The host names it answers on (lower case, no port); an unknown host gets the first territory.
    hosts: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default=text("'[]'")),
    )
    # The languages offered, first the territory's own ("fr", "en", "de", "lb").
    languages: list[str] = Field(
        default_factory=lambda: ["fr", "en"],
        sa_column=Column(JSON, nullable=False, server_default=text('\'["fr", "en"]\'')),
    )
    # The body that publishes the platform (legal notice, e-mails, open data, Open311 contact).
    publisher: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})
    colour_primary: str = Field(
        default="#0b5d3b", max_length=7, sa_column_kwargs={"server_default": "#0b5d3b"}
    )
    colour_accent: str = Field(
        default="#f4be3c", max_length=7, sa_column_kwargs={"server_default": "#f4be3c"}
    )
    contact_email: str = Field(default="", max_length=254, sa_column_kwargs={"server_default": ""})
    # The legal notice's text (publication director, host), shown on the about page.
    legal_text: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default=text("''"))
    )
    mail_sender: str = Field(default="", max_length=254, sa_column_kwargs={"server_default": ""})
    opendata_licence: str = Field(
        default="", max_length=300, sa_column_kwargs={"server_default": ""}
    )
    opendata_licence_name: str = Field(
        default="", max_length=200, sa_column_kwargs={"server_default": ""}
    )
    opendata_publisher: str = Field(
        default="", max_length=200, sa_column_kwargs={"server_default": ""}
    )
    # The territory's own mail server (empty host: the install's, ``ECLOR_SMTP_*``); its password
    # is read from the environment variable ``smtp_password_env`` names, never stored here.
    smtp_host: str = Field(default="", max_length=253, sa_column_kwargs={"server_default": ""})
    smtp_port: int = Field(default=587, sa_column_kwargs={"server_default": "587"})
    smtp_user: str = Field(default="", max_length=254, sa_column_kwargs={"server_default": ""})
    smtp_password_env: str = Field(
        default="", max_length=64, sa_column_kwargs={"server_default": ""}
    )
    smtp_starttls: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    # The territory's own map tiles (an XYZ URL with {z}, {x}, {y}, https) and their attribution;
    # empty: the install's (``ECLOR_TILE_URL``, ``ECLOR_TILE_ATTRIBUTION``).
    tile_url: str = Field(default="", max_length=300, sa_column_kwargs={"server_default": ""})
    tile_attribution: str = Field(
        default="", max_length=200, sa_column_kwargs={"server_default": ""}
    )


class Commune(SQLModel, table=True):
    __tablename__ = "communes"

    insee: str = Field(primary_key=True, max_length=5)
    territory_id: int = Field(foreign_key="territories.id", index=True)
    name: str = Field(max_length=120)
    postcode: str = Field(max_length=5)
    lat: float
    lon: float
    # CAP polygon text ("lat,lon" points, closed) of the commune's outline, for CAP export.
    outline: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    country: str = Field(default="FR", max_length=2, sa_column_kwargs={"server_default": "FR"})
    # The official code in its country (INSEE in France, LAU in Luxembourg), unique.
    code: str = Field(max_length=12, unique=True)
    # The outline is drawn around the commune's centre, not surveyed: say so where it is shown.
    outline_approximate: bool = Field(
        default=False, sa_column_kwargs={"server_default": text("false")}
    )


class Body(SQLModel, table=True):
    """A body responsible for part of a territory: the intercommunality at the root, a commune's
    services inside it (FixMyStreet's bodies). A report goes to the most deeply nested body whose
    communes hold its commune and whose categories hold its category (app.bodies.responsible).

    ``communes`` (commune keys) empty: the parent's communes (the whole territory at the root);
    ``categories`` (report categories) empty: every category."""

    __tablename__ = "bodies"
    __table_args__ = (UniqueConstraint("territory_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territories.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="bodies.id", index=True)
    name: str = Field(max_length=200)
    communes: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default=text("'[]'")),
    )
    categories: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default=text("'[]'")),
    )
    contact_email: str = Field(default="", max_length=254, sa_column_kwargs={"server_default": ""})
