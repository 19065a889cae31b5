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
    PARIS,
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
from app.reports.catalogue import CATEGORIES, PUBLIC_STATUSES

CATEGORY_ENUM = tuple(CATEGORIES)
STATUS_ENUM = tuple(PUBLIC_STATUSES)


def _report_rows(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    stmt = (
        sa.select(
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
    for category, status, commune, created, resolved, lat, lon in (
        session.connection().execution_options(yield_per=5000).execute(stmt)
    ):
        yield (
            category,
            status,
            commune,
            local_day(created),
            local_day(resolved),
            rounded(lat),
            rounded(lon),
        )


_PUBLIC_SQL = ", ".join(f"'{status}'" for status in PUBLIC_STATUSES)
_PARIS_DAY = "to_char({0} AT TIME ZONE 'Europe/Paris', 'YYYY-MM-DD')"
REPORTS_SQL = (  # _report_rows computed by PostgreSQL (app.opendata.copy)
    "SELECT category AS categorie, status AS etat, NULLIF(commune_insee, '') AS commune_insee, "
    f"{_PARIS_DAY.format('created_at')} AS date_signalement, "
    f"{_PARIS_DAY.format('resolved_at')} AS date_resolution, "
    "round(lat::numeric, 3) AS latitude, round(lon::numeric, 3) AS longitude "
    f"FROM reports WHERE status IN ({_PUBLIC_SQL}) AND {territory_sql('territory_id')} ORDER BY id"
)
DAILY_SQL = (  # _daily_rows computed by PostgreSQL
    f"SELECT {_PARIS_DAY.format('created_at')} AS date, category AS categorie, count(*) AS nombre "
    f"FROM reports WHERE status IN ({_PUBLIC_SQL}) AND {territory_sql('territory_id')} "
    "GROUP BY 1, 2 ORDER BY 1, 2"
)


def _daily_rows(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    # Grouped by UTC day in SQL would split Paris evenings: count per local day while streaming.
    stmt = (
        select(col(Report.created_at), col(Report.category))
        .where(col(Report.status).in_(PUBLIC_STATUSES), *here(session, col(Report.territory_id)))
        .order_by(col(Report.created_at))
    )
    day: str | None = None
    counts: dict[str, int] = {}
    for created, category in session.connection().execution_options(yield_per=5000).execute(stmt):
        this = local_day(created)
        if this != day and day is not None:
            yield from ((day, c, n) for c, n in sorted(counts.items()))
            counts = {}
        day = this
        counts[category] = counts.get(category, 0) + 1
    if day is not None:
        yield from ((day, c, n) for c, n in sorted(counts.items()))


def public_row(report: Any) -> tuple[Any, ...]:
    """A report as the open data publishes it (the file, the live stream and the NGSI-LD twin)."""
    return (
        report.category,
        report.status,
        report.commune_insee,
        local_day(report.created_at),
        local_day(report.resolved_at),
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
    return dict(zip(REPORTS.column_names, public_row(report), strict=True))


def day_counts(session: Session, day: str) -> dict[str, int]:
    """The number of public reports created on a Paris day (``YYYY-MM-DD``), per category (of the
    session's territory)."""
    start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), PARIS).astimezone(dt.UTC)
    counts: dict[str, int] = {}
    # Read from the UTC start of the Paris day with a margin: the day is decided per row in Python.
    for created, category in session.execute(
        select(col(Report.created_at), col(Report.category)).where(
            col(Report.created_at) >= start - dt.timedelta(hours=1),
            col(Report.created_at) < start + dt.timedelta(hours=26),
            col(Report.status).in_(PUBLIC_STATUSES),
            *here(session, col(Report.territory_id)),
        )
    ):
        if local_day(created) == day:
            counts[category] = counts.get(category, 0) + 1
    return counts


def _live_daily(session: Session, event: dict[str, Any], base_url: str) -> dict[str, Any] | None:
    """A new report: the day's count of its category so far (Paris day)."""
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
    day = local_day(report.created_at)
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
        Column(
            "categorie", "string", "Catégorie", "Type de déchets", required=True, enum=CATEGORY_ENUM
        ),
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
        "Le nombre de signalements de dépôts sauvages reçus chaque jour (heure de Paris), par "
        "catégorie. Les jours sans signalement d'une catégorie n'ont pas de ligne."
    ),
    theme="ENVI",
    keywords=("déchets", "dépôts sauvages", "statistiques"),
    frequency="DAILY",
    expected_minutes=15,
    columns=(
        Column("date", "date", "Jour", required=True),
        Column("categorie", "string", "Catégorie", required=True, enum=CATEGORY_ENUM),
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
