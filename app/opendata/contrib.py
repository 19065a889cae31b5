"""The open data contribution: what a domain declares to publish a dataset.

A domain builds ``OpenDataset`` values (name, columns, a streamed row query,
its geometry, the live event kinds that change it, the answers to CNIL's three
criteria) and lists them in its registry entry; the open data package never
reads another domain's tables. ``rows`` must already be anonymised: rounded
positions, no person, no free text, small counts suppressed (``suppress``).

Each territory publishes its own rows: the snapshot writer and the live stream
bind their session to the territory (``app.territories.bind``), and ``rows``,
``live_row`` and ``copy_sql`` keep to it (:func:`here`, :func:`owns`,
:func:`territory_sql`); an unbound session is the whole install.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.territories import bound

K_ANONYMITY = 11  # counts under this are suppressed (CNIL / statistical secrecy practice)
POSITION_DECIMALS = (
    3  # published rounding of positions of people's actions: 0.001° ≈ 110 m × 75 m here
)


# Where ``copy_sql`` names the territory whose rows it selects (app.opendata.copy puts its id,
# or NULL for the whole install).
TERRITORY_SQL = ":eclor_territory"


def territory_id(session: Session) -> int | None:
    """The territory the session is bound to, or None (the whole install)."""
    territory = bound(session)
    return territory.id if territory is not None else None


def here(session: Session, column: Any) -> tuple[Any, ...]:
    """The condition keeping ``column`` (a ``territory_id``) to the session's territory."""
    territory = territory_id(session)
    return () if territory is None else (column == territory,)


def owns(session: Session, row_territory: int | None) -> bool:
    """Whether a row of ``row_territory`` is the session's territory's (always, when unbound)."""
    territory = territory_id(session)
    return territory is None or row_territory == territory


def territory_sql(column: str) -> str:
    """SQL keeping ``column`` (a ``territory_id``) to the territory ``copy_sql`` is run for."""
    return f"({TERRITORY_SQL} IS NULL OR {column} = {TERRITORY_SQL})"


@dataclass(frozen=True)
class Column:
    """One column, described as a Table Schema field."""

    name: str
    type: (
        str  # Table Schema type: string, integer, number, boolean, date, datetime, yearmonth, time
    )
    title: str  # French
    description: str = ""
    required: bool = False
    enum: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class Geometry:
    """Where a row is: two of its columns, and the rounding they are published with."""

    lat: str
    lon: str
    decimals: int = POSITION_DECIMALS
    per_place: bool = False  # rows repeat a few places over time: the GeoJSON holds each place once


@dataclass(frozen=True)
class Cnil:
    """CNIL's three criteria of anonymisation, answered for one dataset (French)."""

    singling_out: str  # individualisation
    linkability: str  # corrélation
    inference: str  # inférence


Rows = Callable[[Session, str], Iterable[tuple[Any, ...]]]
LiveRow = Callable[[Session, dict[str, Any], str], dict[str, Any] | None]


@dataclass(frozen=True)
class OpenDataset:
    slug: str  # stable, used in URLs: /data/{slug}
    domain: str
    title: str  # French
    description: str  # French
    theme: str  # EU data theme code (TRAN, ENVI, ENER, GOVE, ECON, SOCI, REGI)
    keywords: tuple[str, ...]
    frequency: str  # EU frequency code: CONT, HOURLY, DAILY, MONTHLY, IRREG
    expected_minutes: int  # the freshness the catalogue promises for the snapshot
    columns: tuple[Column, ...]
    rows: Rows
    cnil: Cnil
    geometry: Geometry | None = None
    live_kinds: tuple[str, ...] = ()  # event kinds of the outbox that change this dataset
    live_row: LiveRow | None = (
        None  # an event payload -> the public row (or None: not for this dataset)
    )
    # PostgreSQL: a SELECT of the same public rows, cell for cell, that COPY streams (app.opendata.copy)
    copy_sql: str = ""
    # PostgreSQL, for ``geometry.per_place``: the rows of ``copy_sql`` at both ends of each place's
    # time (its first and last), in the same order; the GeoJSON and the covered period are read from
    # them instead of from every row. Unset: from ``copy_sql``.
    ends_sql: str = ""
    # the NGSI-LD entity type that is this dataset's live twin (/ngsi-ld/v1/entities?type=...)
    twin: str = ""
    conforms_to: tuple[tuple[str, str], ...] = ()  # (URL, title) of outside schemas it follows
    suppression: str = ""  # how small counts are suppressed, when the dataset has counts
    published_by_default: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class Service:
    """An API a domain offers, listed in the catalogue as a ``dcat:DataService``."""

    key: str
    title: str
    description: str
    endpoint: str  # path, under the base URL
    description_url: str  # path of its machine description
    conforms_to: str
    serves: tuple[str, ...]  # dataset slugs


def rounded(value: float | None, decimals: int = POSITION_DECIMALS) -> float | None:
    return None if value is None else round(float(value), decimals)


def suppress(count: int) -> int | None:
    """A count, or None (published empty) when under ``K_ANONYMITY``."""
    return count if count >= K_ANONYMITY else None


def suppression_text(what: str) -> str:
    return (
        f"Les {what} inférieurs à {K_ANONYMITY} sont masqués (cellule vide, colonne « masque » à vrai) "
        "pour qu'aucune personne ne puisse être isolée."
    )


def by_slug(datasets: Iterable[OpenDataset]) -> dict[str, OpenDataset]:
    return {d.slug: d for d in datasets}


def as_dicts(dataset: OpenDataset, rows: Iterable[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
    names = dataset.column_names
    for row in rows:
        yield dict(zip(names, row, strict=True))


def utc_text(moment: Any) -> str | None:
    """A stored time (naive UTC on SQLite, aware on PostgreSQL) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds") + "Z"


def local_day(moment: Any, zone: ZoneInfo) -> str | None:
    """The day of a stored time in ``zone`` (the time zone of the row's territory:
    ``app.territories.zone``), as ``YYYY-MM-DD``."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).date().isoformat()
