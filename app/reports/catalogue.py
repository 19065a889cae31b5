"""Dump-site reports: categories, states and the transitions staff may make, the public open/closed view Open311 uses, report numbers and list filters."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from app import bodies, geo
from app.db import utcnow
from app.models.reports import DEFAULT_REPORT_CATEGORIES, REPORT_CATEGORIES, Report
from app.models.territory import Commune
from app.numbers import is_ascii_digits, parse_int

log = logging.getLogger("eclor.reports")


def N_(message: str) -> str:
    """Mark a French string for translation at render time."""
    return message


# --- vocabulary
# The built-in categories' labels and hints, marked for translation (a territory's own list is in
# ``report_categories``: app.reports.categories; these are the labels its built-in rows carry). -------------------------------------------------------------------------------

NUMBER_PREFIX = "PHVA"
AGENCY = "Communauté de communes Pays-Haut Val d'Alzette"

CATEGORIES: dict[str, str] = {
    "household_waste": N_("Ordures ménagères"),
    "bulky_items": N_("Encombrants"),
    "rubble": N_("Gravats"),
    "green_waste": N_("Déchets verts"),
    "tyres": N_("Pneus"),
    "hazardous": N_("Produits dangereux"),
    "other": N_("Autre"),
}
CATEGORY_HINTS: dict[str, str] = {
    "household_waste": N_("Sacs poubelle, déchets du quotidien"),
    "bulky_items": N_("Meubles, matelas, électroménager"),
    "rubble": N_("Gravats, plâtre, déchets de chantier"),
    "green_waste": N_("Tontes, branches, souches"),
    "tyres": N_("Pneus, jantes"),
    "hazardous": N_("Bidons, peintures, amiante, batteries : n’y touchez pas"),
    "other": N_("Tout le reste"),
}
assert [(c, CATEGORIES[c], CATEGORY_HINTS[c]) for c in REPORT_CATEGORIES] == list(
    DEFAULT_REPORT_CATEGORIES
), "app.models.reports.DEFAULT_REPORT_CATEGORIES"
VOLUMES: dict[str, str] = {
    "bag": N_("Quelques sacs (moins d’1 m³)"),
    "car": N_("Un coffre de voiture (1 à 3 m³)"),
    "van": N_("Une camionnette (3 à 10 m³)"),
    "truck": N_("Plus d’un camion (plus de 10 m³)"),
}

STATUSES: dict[str, str] = {
    "new": N_("Nouveau"),
    "confirmed": N_("Confirmé"),
    "scheduled": N_("Enlèvement programmé"),
    "in_progress": N_("En cours"),
    "resolved": N_("Résolu"),
    "rejected": N_("Rejeté"),
    "duplicate": N_("Doublon"),
    "hidden": N_("Masqué"),
}
OPEN_STATUSES = ("new", "confirmed", "scheduled", "in_progress")
CLOSED_STATUSES = ("resolved", "rejected", "duplicate")
PUBLIC_STATUSES = OPEN_STATUSES + CLOSED_STATUSES  # "hidden" never leaves staff pages

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("confirmed", "scheduled", "in_progress", "resolved", "rejected", "duplicate", "hidden"),
    "confirmed": ("scheduled", "in_progress", "resolved", "rejected", "duplicate", "hidden"),
    "scheduled": ("confirmed", "in_progress", "resolved", "rejected", "duplicate", "hidden"),
    "in_progress": ("confirmed", "scheduled", "resolved", "rejected", "duplicate", "hidden"),
    "resolved": ("confirmed", "in_progress", "hidden"),
    "rejected": ("confirmed", "hidden"),
    "duplicate": ("confirmed", "hidden"),
    "hidden": ("new", "confirmed"),
}

MAX_PHOTOS = 3
NEARBY_METRES = 100
NEARBY_LIMIT = 5
REOPEN_DAYS = 14
PUBLIC_DECIMALS = 3  # about 110 m north-south, 70 m east-west here: no home is pinpointed
TERRITORY_RADIUS_M = 9000  # farther than this from every commune centre: outside the territory


class ReportError(ValueError):
    """A change that cannot be made, with a French message for the person."""

    def __init__(self, message: str, field: str = "__all__") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def number(report: Any) -> str:
    """The public number (e.g. ``PHVA-2026-000123``) of a report, or of a row with its ``id`` and
    ``created_at``."""
    year = report.created_at.year if report.created_at else utcnow().year
    return f"{NUMBER_PREFIX}-{year}-{report.id:06d}"


_NUMBER_RE = re.compile(rf"^{NUMBER_PREFIX}-(\d{{4}})-(\d{{1,9}})$", re.IGNORECASE)


def id_from_number(value: str) -> int | None:
    """The report id behind a public number (or a bare id), None if it is not one."""
    value = value.strip()
    if is_ascii_digits(value, max_digits=9):
        return int(value)
    match = _NUMBER_RE.match(value)
    return parse_int(match.group(2), max_digits=9) if match else None


def public_position(lat: float, lon: float) -> tuple[float, float]:
    """A position rounded so that it points at a block, not at a house."""
    return round(lat, PUBLIC_DECIMALS), round(lon, PUBLIC_DECIMALS)


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES


def outline_rings(text: str | None) -> list[list[geo.Point]]:
    """A commune's outline as outer rings of (lat, lon) points: CAP polygon text (``"lat,lon ..."``,
    what ``communes.outline`` holds) or GeoJSON text of a Polygon or MultiPolygon (``[lon, lat]``
    points; holes are not kept). Empty when there is none or it cannot be read."""
    return [list(ring) for ring in _outline_rings(text or "")]


@lru_cache(maxsize=256)
def _outline_rings(text: str) -> tuple[tuple[geo.Point, ...], ...]:
    text = text.strip()
    if not text:
        return ()
    if not text.startswith("{"):
        points = geo.parse_ring(text)
        return (tuple(points),) if len(points) >= 3 else ()
    try:
        shape = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(shape, dict):
        return ()
    if shape.get("type") == "Feature":
        shape = shape.get("geometry") or {}
    kind, coordinates = shape.get("type"), shape.get("coordinates")
    polygons = (
        [coordinates]
        if kind == "Polygon"
        else coordinates
        if kind == "MultiPolygon" and isinstance(coordinates, list)
        else []
    )
    rings: list[tuple[geo.Point, ...]] = []
    for polygon in polygons:
        try:
            ring = tuple((float(p[1]), float(p[0])) for p in polygon[0])
        except (TypeError, ValueError, IndexError):
            continue
        if len(ring) >= 3:
            rings.append(ring)
    return tuple(rings)


def commune_at(session: Session, lat: float, lon: float) -> Commune | None:
    """The commune responsible for a place: the one whose outline holds it (of two outlines that
    overlap, the one whose centre is nearer); when no outline holds it, the commune whose centre
    is nearest within :data:`TERRITORY_RADIUS_M`; None when the place is outside every territory.

    Whatever territory the commune belongs to: a place across a border reaches the commune (and
    territory) of that place, not the nearest centre's."""
    communes = session.scalars(select(Commune)).all()
    if not communes:
        return None
    inside = [
        c
        for c in communes
        if any(geo.point_in_polygon(lat, lon, ring) for ring in outline_rings(c.outline))
    ]
    candidates = inside or communes
    best = min(candidates, key=lambda c: (geo.distance_m(lat, lon, c.lat, c.lon), c.insee))
    if inside:
        return best
    return best if geo.distance_m(lat, lon, best.lat, best.lon) <= TERRITORY_RADIUS_M else None


# A commune's key: an INSEE code (5 digits, or 2A/2B and 3 digits in Corsica), or another country's
# initial and its code's four digits (Luxembourg: ``L0204``; app.territories.commune_key).
COMMUNE_KEY = r"(?:\d[0-9AB]\d{3}|[A-Z]\d{4})"


@dataclass
class Filters:
    commune: str | None = None
    category: str | None = None
    status: str | None = None
    q: str | None = None
    body: int | None = None  # staff: the reports of this body and of the bodies nested in it
    body_ids: tuple[int, ...] = ()

    @classmethod
    def parse(
        cls,
        params: Any,
        *,
        staff: bool,
        tree: Sequence[bodies.Node] = (),
        categories: Collection[str] = REPORT_CATEGORIES,
    ) -> Filters:
        """The filters of a list's query string; ``tree``: the territory's bodies (staff lists);
        ``categories``: the territory's category codes (app.reports.categories)."""
        body = parse_int(params.get("body") or "", max_digits=9) if staff else None
        if body is not None and not any(n.id == body for n in tree):
            body = None
        commune = (params.get("commune") or "").strip() or None
        category = (params.get("category") or "").strip() or None
        status = (params.get("status") or "").strip() or None
        q = (params.get("q") or "").strip()[:100] or None
        allowed = {*(STATUSES if staff else PUBLIC_STATUSES), "open", "closed"}
        return cls(
            commune=commune if commune and re.fullmatch(COMMUNE_KEY, commune) else None,
            category=category if category in categories else None,
            status=status if status in allowed else None,
            q=q,
            body=body,
            body_ids=tuple(sorted(bodies.subtree(tree, body))) if body is not None else (),
        )

    def apply(self, stmt: Any, *, staff: bool) -> Any:
        if not staff:
            # Every state but "hidden" (PUBLIC_STATUSES), said as one inequality: the newest-first
            # lists then walk ``ix_reports_created`` and stop at their page, where an IN list of the
            # states sent SQLite through the state index, sorting every public report of the history.
            stmt = stmt.where(col(Report.status) != "hidden")
        if self.commune:
            stmt = stmt.where(col(Report.commune_insee) == self.commune)
        if self.category:
            stmt = stmt.where(col(Report.category) == self.category)
        if self.body_ids:
            stmt = stmt.where(col(Report.body_id).in_(self.body_ids))
        if self.status == "open":
            stmt = stmt.where(col(Report.status).in_(OPEN_STATUSES))
        elif self.status == "closed":
            stmt = stmt.where(col(Report.status).in_(CLOSED_STATUSES))
        elif self.status:
            stmt = stmt.where(col(Report.status) == self.status)
        if self.q:
            ident = id_from_number(self.q)
            like = f"%{self.q.lower()}%"
            conds: list[ColumnElement[bool]] = [
                func.lower(col(Report.description)).like(like),
                func.lower(col(Report.address)).like(like),
            ]
            if ident:
                conds.append(col(Report.id) == ident)
            stmt = stmt.where(or_(*conds))
        return stmt

    def query(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("commune", self.commune),
                ("category", self.category),
                ("status", self.status),
                ("q", self.q),
                ("body", str(self.body) if self.body is not None else None),
            )
            if v
        }


def scoped(stmt: Any, territory_id: int | None) -> Any:
    """``stmt`` (a select over ``reports``) kept to one territory's reports: every reports query a
    request makes goes through here with the request's territory (app.territories). None is the
    whole install, for what no request makes (the command line, jobs)."""
    if territory_id is None:
        return stmt
    return stmt.where(col(Report.territory_id) == territory_id)


def report_in(session: Session, report_id: int | None, territory_id: int) -> Report | None:
    """The report of that id if it belongs to the territory, else None (as if it did not exist)."""
    report = session.get(Report, report_id) if report_id else None
    return report if report is not None and report.territory_id == territory_id else None


COUNT_CAP = 10_000  # lists count this far, then say "≥ 10000": the cost follows what is shown


def bounded_count(session: Session, ids: Any) -> tuple[int, bool]:
    """How many rows ``ids`` (a select of ids) returns, reading at most ``COUNT_CAP`` + 1; and whether capped."""
    n = int(
        session.scalar(select(func.count()).select_from(ids.limit(COUNT_CAP + 1).subquery())) or 0
    )
    return min(n, COUNT_CAP), n > COUNT_CAP


def communes(session: Session, territory_id: int | None = None) -> list[Commune]:
    """The communes (of one territory when given), by name."""
    stmt = select(Commune).order_by(col(Commune.name))
    if territory_id is not None:
        stmt = stmt.where(col(Commune.territory_id) == territory_id)
    return list(session.scalars(stmt))
