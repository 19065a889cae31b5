"""Dump-site reports as open data: each report (no text, no person, position rounded) and daily counts.

The reports domain's contribution to the open data catalogue (``app.opendata.contrib``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.models.reports import Report
from app.opendata.contrib import Cnil, Column, Geometry, OpenDataset, Service, local_day, rounded
from app.reports.workflow import CATEGORIES, PUBLIC_STATUSES

CATEGORY_ENUM = tuple(CATEGORIES)
STATUS_ENUM = tuple(PUBLIC_STATUSES)


def _report_rows(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    stmt = (
        select(
            Report.category,
            Report.status,
            Report.commune_insee,
            Report.created_at,
            Report.resolved_at,
            Report.lat,
            Report.lon,
        )
        .where(Report.status.in_(PUBLIC_STATUSES))  # type: ignore[attr-defined]
        .order_by(Report.id)
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


def _daily_rows(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    # Grouped by UTC day in SQL would split Paris evenings: count per local day while streaming.
    stmt = (
        select(Report.created_at, Report.category)
        .where(Report.status.in_(PUBLIC_STATUSES))  # type: ignore[attr-defined]
        .order_by(Report.created_at)
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


def _live_report(session: Session, event: dict[str, Any], base_url: str) -> dict[str, Any] | None:
    feature = str(event.get("feature_id", ""))
    report = session.get(Report, int(feature)) if feature.isdigit() else None
    if report is None or report.status not in PUBLIC_STATUSES:
        return None
    row = (
        report.category,
        report.status,
        report.commune_insee,
        local_day(report.created_at),
        local_day(report.resolved_at),
        rounded(report.lat),
        rounded(report.lon),
    )
    return dict(zip(REPORTS.column_names, row, strict=True))


def _live_daily(session: Session, event: dict[str, Any], base_url: str) -> dict[str, Any] | None:
    """A new report: the day's count of its category so far (Paris day)."""
    feature = str(event.get("feature_id", ""))
    if event.get("kind") != "created" or not feature.isdigit():
        return None
    report = session.get(Report, int(feature))
    if report is None or report.status not in PUBLIC_STATUSES:
        return None
    day = local_day(report.created_at)
    since = report.created_at - dt.timedelta(days=1)
    count = sum(
        1
        for (created,) in session.execute(
            select(Report.created_at).where(
                Report.category == report.category,
                Report.created_at > since,
                Report.status.in_(PUBLIC_STATUSES),
            )
        )  # type: ignore[attr-defined]
        if local_day(created) == day
    )
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
    geometry=Geometry("latitude", "longitude"),
    live_kinds=("reports:*",),
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
    live_kinds=("reports:created",),
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
