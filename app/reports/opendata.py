"""Dump-site reports as open data: each report (no text, no person, position rounded) and daily counts.

The reports domain's contribution to the open data catalogue (``app.opendata.contrib``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.models.reports import Report
from app.opendata.contrib import (
    Cnil,
    Column,
    Geometry,
    OpenDataset,
    Service,
    here,
    local_day,
    owns,
    rounded,
    territory_sql,
)
from app.reports.catalogue import PUBLIC_STATUSES
from app.territories import zone as territory_zone
from app.territories import zones

# A category is a code of the territory's own list (its staff may add some): no fixed list of
# values, the territory's are its Open311 services (/open311/v2/services.json).
CATEGORY_TEXT = (
    "Code de la catégorie de déchets, l’une de celles du territoire (leur liste et leurs noms : "
    "services de l’API Open311, /open311/v2/services.json)"
)
STATUS_ENUM = tuple(PUBLIC_STATUSES)


def _report_rows(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    # Each report's days in its own territory's time zone (the whole install mixes territories).
    zone_of = zones(session).of
    stmt = (
        sa.select(
            col(Report.territory_id),
            col(Report.category),
            col(Report.status),
            col(Report.commune_insee),
            col(Report.created_at),
            col(Report.resolved_at),
            col(Report.lat),
            col(Report.lon),
        )
        .where(col(Report.status).in_(PUBLIC_STATUSES), *here(session, col(Report.territory_id)))
        .order_by(col(Report.id))
    )
    for territory, category, status, commune, created, resolved, lat, lon in (
        session.connection().execution_options(yield_per=5000).execute(stmt)
    ):
        zone = zone_of(territory)
        yield (
            category,
            status,
            commune,
            local_day(created, zone),
            local_day(resolved, zone),
            rounded(lat),
            rounded(lon),
        )


_PUBLIC_SQL = ", ".join(f"'{status}'" for status in PUBLIC_STATUSES)
# A report's day in the time zone of its territory (``t``, joined on the report's territory_id).
_LOCAL_DAY = "to_char(r.{0} AT TIME ZONE t.timezone, 'YYYY-MM-DD')"
_FROM = "FROM reports r JOIN territories t ON t.id = r.territory_id"
REPORTS_SQL = (  # _report_rows computed by PostgreSQL (app.opendata.copy)
    "SELECT r.category AS categorie, r.status AS etat, "
    "NULLIF(r.commune_insee, '') AS commune_insee, "
    f"{_LOCAL_DAY.format('created_at')} AS date_signalement, "
    f"{_LOCAL_DAY.format('resolved_at')} AS date_resolution, "
    "round(r.lat::numeric, 3) AS latitude, round(r.lon::numeric, 3) AS longitude "
    f"{_FROM} WHERE r.status IN ({_PUBLIC_SQL}) AND {territory_sql('r.territory_id')} ORDER BY r.id"
)
DAILY_SQL = (  # _daily_rows computed by PostgreSQL
    f"SELECT {_LOCAL_DAY.format('created_at')} AS date, r.category AS categorie, count(*) AS nombre "
    f"{_FROM} WHERE r.status IN ({_PUBLIC_SQL}) AND {territory_sql('r.territory_id')} "
    "GROUP BY 1, 2 ORDER BY 1, 2"
)


def _daily_rows(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    # Grouped by UTC day in SQL would split local evenings: count per local day (of each report's
    # territory) while streaming.
    zone_of = zones(session).of
    stmt = (
        select(col(Report.created_at), col(Report.category), col(Report.territory_id))
        .where(col(Report.status).in_(PUBLIC_STATUSES), *here(session, col(Report.territory_id)))
        .order_by(col(Report.created_at))
    )
    day: str | None = None
    counts: dict[str, int] = {}
    rows = session.connection().execution_options(yield_per=5000).execute(stmt)
    for created, category, territory in rows:
        this = local_day(created, zone_of(territory))
        if this != day and day is not None:
            yield from ((day, c, n) for c, n in sorted(counts.items()))
            counts = {}
        day = this
        counts[category] = counts.get(category, 0) + 1
    if day is not None:
        yield from ((day, c, n) for c, n in sorted(counts.items()))


def public_row(session: Session, report: Any) -> tuple[Any, ...]:
    """A report as the open data publishes it (the file, the live stream and the NGSI-LD twin):
    its days in its territory's time zone."""
    zone = territory_zone(session, report.territory_id)
    return (
        report.category,
        report.status,
        report.commune_insee,
        local_day(report.created_at, zone),
        local_day(report.resolved_at, zone),
        rounded(report.lat),
        rounded(report.lon),
    )


def _live_report(session: Session, event: dict[str, Any], base_url: str) -> dict[str, Any] | None:
    feature = str(event.get("feature_id", ""))
    report = session.get(Report, int(feature)) if feature.isdigit() else None
    if (
        report is None
        or report.status not in PUBLIC_STATUSES
        or not owns(session, report.territory_id)
    ):
        return None
    return dict(zip(REPORTS.column_names, public_row(session, report), strict=True))


def day_counts(session: Session, day: str) -> dict[str, int]:
    """The number of public reports created on a local day (``YYYY-MM-DD``, in the time zone of the
    session's territory), per category (of the session's territory)."""
    zone = territory_zone(session)
    start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), zone).astimezone(dt.UTC)
    counts: dict[str, int] = {}
    # Read from the UTC start of the local day with a margin: the day is decided per row in Python.
    for created, category in session.execute(
        select(col(Report.created_at), col(Report.category)).where(
            col(Report.created_at) >= start - dt.timedelta(hours=1),
            col(Report.created_at) < start + dt.timedelta(hours=26),
            col(Report.status).in_(PUBLIC_STATUSES),
            *here(session, col(Report.territory_id)),
        )
    ):
        if local_day(created, zone) == day:
            counts[category] = counts.get(category, 0) + 1
    return counts


def _live_daily(session: Session, event: dict[str, Any], base_url: str) -> dict[str, Any] | None:
    """A new report: the day's count of its category so far (the day of its territory)."""
    feature = str(event.get("feature_id", ""))
    if event.get("kind") != "created" or not feature.isdigit():
        return None
    report = session.get(Report, int(feature))
    if (
        report is None
        or report.status not in PUBLIC_STATUSES
        or not owns(session, report.territory_id)
    ):
        return None
    day = local_day(report.created_at, territory_zone(session, report.territory_id))
    assert day is not None
    count = day_counts(session, day).get(report.category, 0)
    return dict(zip(DAILY.column_names, (day, report.category, count), strict=True))


REPORTS = OpenDataset(
    slug="signalements",
    domain="reports",
    title="Signalements de dépôts sauvages",
    description=(
        "Chaque signalement de dépôt sauvage fait par les habitants ou les agents : catégorie, état, "
        "commune, jour du signalement et de sa résolution, position arrondie au millième de degré "
        "(environ 110 m × 75 m). Sans description, adresse, photo ni auteur."
    ),
    theme="ENVI",
    keywords=("déchets", "dépôts sauvages", "propreté", "signalement"),
    frequency="CONT",
    expected_minutes=15,
    columns=(
        Column("categorie", "string", "Catégorie", CATEGORY_TEXT, required=True),
        Column("etat", "string", "État", "État du signalement", required=True, enum=STATUS_ENUM),
        Column("commune_insee", "string", "Commune (code INSEE)"),
        Column("date_signalement", "date", "Jour du signalement", required=True),
        Column("date_resolution", "date", "Jour de la résolution"),
        Column("latitude", "number", "Latitude arrondie (WGS 84)", minimum=-90, maximum=90),
        Column("longitude", "number", "Longitude arrondie (WGS 84)", minimum=-180, maximum=180),
    ),
    rows=_report_rows,
    copy_sql=REPORTS_SQL,
    geometry=Geometry("latitude", "longitude"),
    live_kinds=("reports:*",),
    twin="Open311ServiceRequest",
    live_row=_live_report,
    conforms_to=(
        ("http://wiki.open311.org/GeoReport_v2/", "Open311 GeoReport v2 (états et catégories)"),
    ),
    cnil=Cnil(
        singling_out=(
            "Aucune ligne ne désigne une personne : ni auteur, ni contact, ni texte libre, ni photo ; "
            "la position est arrondie à environ 100 m et la date au jour."
        ),
        linkability=(
            "Les mêmes signalements sont publics dans l'API Open311 sans données personnelles ; "
            "aucun identifiant de compte ne permet de relier deux signalements à une même personne."
        ),
        inference=(
            "On ne peut pas déduire qui a signalé : le signalement décrit un lieu public, pas "
            "son auteur, et l'heure exacte n'est pas publiée."
        ),
    ),
)

DAILY = OpenDataset(
    slug="signalements-quotidiens",
    domain="reports",
    title="Nombre de signalements par jour et par catégorie",
    description=(
        "Le nombre de signalements de dépôts sauvages reçus chaque jour (heure locale du territoire), par "
        "catégorie. Les jours sans signalement d'une catégorie n'ont pas de ligne."
    ),
    theme="ENVI",
    keywords=("déchets", "dépôts sauvages", "statistiques"),
    frequency="DAILY",
    expected_minutes=15,
    columns=(
        Column("date", "date", "Jour", required=True),
        Column("categorie", "string", "Catégorie", CATEGORY_TEXT, required=True),
        Column("nombre", "integer", "Nombre de signalements", required=True, minimum=1),
    ),
    rows=_daily_rows,
    copy_sql=DAILY_SQL,
    live_kinds=("reports:created",),
    twin="DailyReportCount",
    live_row=_live_daily,
    cnil=Cnil(
        singling_out="Des comptes par jour et par catégorie sur tout le territoire : aucune personne.",
        linkability=(
            "Chaque signalement compté est déjà publié sans donnée personnelle (jeu « signalements ») : "
            "le compte n'apporte rien de plus sur une personne ; c'est pourquoi les petits "
            "nombres ne sont pas masqués ici."
        ),
        inference="Aucune : ni commune, ni heure, ni auteur.",
    ),
)

DATASETS = (REPORTS, DAILY)
SERVICES = (
    Service(
        "open311",
        "API Open311 GeoReport v2 des signalements",
        "Lire les signalements (sans donnée personnelle) et en créer, selon GeoReport v2.",
        "/open311/v2",
        "/open311/v2/discovery.json",
        "http://wiki.open311.org/GeoReport_v2/",
        ("signalements",),
    ),
)
