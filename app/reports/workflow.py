"""Dump-site reports: what the web pages, Open311, the worker and the CLI share.

- Categories, states and the transitions staff may make; the public
  open/closed view Open311 uses.
- ``create_report``: idempotent creation (a client-made key makes a replay,
  a double tap or a retry answer the first report), photos checked and
  re-encoded before anything is written, the report kept even when a photo
  cannot be stored after it was accepted.
- ``change_status`` and the other staff changes: each one writes a line of
  history and notifies the reporter and the followers (``app.notify``).
- Duplicates nearby, statistics, CSV export, GDPR export and erasure, and
  the ``eclor demo`` loader.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import re
import secrets
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app import events, geo, images
from app.db import read_session, utcnow, write_session
from app.csvsafe import csv_cell
from app.numbers import is_ascii_digits, parse_int
from app.i18n import gettext as _
from app.models.accounts import User
from app.models.reports import (
    RejectReason,
    Report,
    ReportApiKey,
    ReportEvent,
    ReportFollow,
    ReportPhoto,
    ReportThanks,
    ResponseTemplate,
)
from app.models.territory import Commune
from app.notify import notify

log = logging.getLogger("eclor.reports")
PARIS = ZoneInfo("Europe/Paris")


def N_(message: str) -> str:
    """Mark a French string for translation at render time."""
    return message


# --- vocabulary -------------------------------------------------------------------------------

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


def number(report: Report) -> str:
    """The report's public number, e.g. ``PHVA-2026-000123``."""
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


def commune_at(session: Session, lat: float, lon: float) -> Commune | None:
    """The commune whose centre is nearest, or None when the place is outside the territory."""
    communes = session.scalars(select(Commune)).all()
    if not communes:
        return None
    best = min(communes, key=lambda c: geo.distance_m(lat, lon, c.lat, c.lon))
    return best if geo.distance_m(lat, lon, best.lat, best.lon) <= TERRITORY_RADIUS_M else None


# --- creation ---------------------------------------------------------------------------------


@dataclass
class NewReport:
    """A validated report, before any row or file exists."""

    category: str
    description: str = ""
    volume: str | None = None
    witnessed: bool = False
    lat: float | None = None
    lon: float | None = None
    commune_insee: str | None = None
    address: str = ""
    idempotency_key: str | None = None
    reporter_id: int | None = None
    contact_email: str | None = None
    contact_name: str | None = None
    source: str = "web"
    api_key_id: int | None = None
    photos: list[images.ProcessedPhoto] = field(default_factory=list)


@dataclass(frozen=True)
class Created:
    report: Report
    existing: bool  # True when the idempotency key matched an earlier report


def check_photos(uploads: Sequence[bytes], max_bytes: int) -> list[images.ProcessedPhoto]:
    """Check and re-encode every upload; raise ReportError (nothing stored) on the first bad one."""
    uploads = [u for u in uploads if u]
    if len(uploads) > MAX_PHOTOS:
        raise ReportError(_("Trois photos au maximum."), "photos")
    processed = []
    for index, data in enumerate(uploads, start=1):
        try:
            processed.append(images.process(data, max_bytes=max_bytes))
        except images.ImageRejected as exc:
            prefix = _("Photo %(n)d : ") % {"n": index} if len(uploads) > 1 else ""
            raise ReportError(prefix + exc.message, "photos") from exc
    return processed


def find_by_key(session: Session, key: str | None) -> Report | None:
    if not key:
        return None
    return session.scalars(select(Report).where(Report.idempotency_key == key)).first()


def _store_photos(
    photos: Iterable[images.ProcessedPhoto], media_dir: Path
) -> list[tuple[images.ProcessedPhoto, images.StoredPhoto]]:
    """Write the photos' files; a photo whose file cannot be written is skipped (and logged)."""
    stored = []
    for photo in photos:
        try:
            stored.append((photo, images.save(photo, media_dir)))
        except OSError:
            log.exception("a report photo could not be stored")
    return stored


def _delete_files(stored: Iterable[images.StoredPhoto], media_dir: Path) -> None:
    names = [n for s in stored for n in (s.display_name, s.thumb_name)]
    if names:
        try:
            images.delete(names, media_dir)
        except OSError:
            log.exception("report photo files could not be removed")


def create_report(engine: Engine, new: NewReport, media_dir: Path) -> Created:
    """Create the report in one write transaction (idempotent on ``new.idempotency_key``).

    Photos were checked before (``check_photos``); their files are written
    before the transaction and removed again if the report is not created or
    already existed. The place is the given position, else the first photo's
    GPS position, else the commune's centre (``approximate``).
    """
    with write_session(engine) as session:
        existing = find_by_key(session, new.idempotency_key)
        if existing is not None:
            return Created(existing, True)
    lat, lon = new.lat, new.lon
    if lat is None or lon is None:
        gps = next((p.gps for p in new.photos if p.gps), None)
        if gps is not None:
            lat, lon = gps.lat, gps.lon
    stored = _store_photos(new.photos, media_dir)
    try:
        with write_session(engine) as session:
            existing = find_by_key(session, new.idempotency_key)
            if existing is not None:
                _delete_files((s for _p, s in stored), media_dir)
                return Created(existing, True)
            approximate = False
            commune: Commune | None
            if lat is not None and lon is not None:
                commune = commune_at(session, lat, lon)
                if commune is None:
                    raise ReportError(
                        _("Ce lieu est en dehors du territoire de la communauté de communes."),
                        "place",
                    )
            else:
                commune = session.get(Commune, new.commune_insee) if new.commune_insee else None
                if commune is None:
                    raise ReportError(
                        _(
                            "Indiquez le lieu : placez le point sur la carte, utilisez votre "
                            "position, ou choisissez au moins la commune."
                        ),
                        "place",
                    )
                lat, lon, approximate = commune.lat, commune.lon, True
            now = utcnow()
            report = Report(
                category=new.category,
                description=new.description,
                volume=new.volume,
                witnessed=new.witnessed,
                lat=lat,
                lon=lon,
                approximate=approximate,
                address=new.address,
                commune_insee=commune.insee,
                reporter_id=new.reporter_id,
                contact_email=new.contact_email,
                contact_name=new.contact_name,
                source=new.source,
                api_key_id=new.api_key_id,
                idempotency_key=new.idempotency_key,
                token=secrets.token_urlsafe(16) if new.source == "open311" else None,
                created_at=now,
                updated_at=now,
            )
            session.add(report)
            session.flush()
            for photo, names in stored:
                session.add(
                    ReportPhoto(
                        report_id=report.id,
                        kind="overview",
                        display_name=names.display_name,
                        thumb_name=names.thumb_name,
                        width=photo.width,
                        height=photo.height,
                        sha256=photo.sha256,
                        uploaded_by=new.reporter_id,
                    )
                )
            text = ""
            if len(stored) < len(new.photos):
                text = _("Une photo n’a pas pu être enregistrée ; le signalement est bien reçu.")
            session.add(
                ReportEvent(
                    report_id=report.id,
                    actor_id=new.reporter_id,
                    kind="created",
                    to_status="new",
                    text=text,
                    at=now,
                )
            )
            if new.reporter_id:
                session.add(ReportFollow(report_id=report.id, user_id=new.reporter_id))
            session.flush()
            events.publish(
                session,
                "reports",
                str(report.id),
                "created",
                {"status": "new", "category": report.category, "commune": report.commune_insee},
            )
    except IntegrityError:
        # Another request with the same key won the race: answer its report.
        _delete_files((s for _p, s in stored), media_dir)
        with write_session(engine) as session:
            existing = find_by_key(session, new.idempotency_key)
        if existing is None:
            raise
        return Created(existing, True)
    except BaseException:
        _delete_files((s for _p, s in stored), media_dir)
        raise
    return Created(report, False)


# --- reading ----------------------------------------------------------------------------------


def photos_of(
    session: Session, report_ids: Sequence[int], kind: str | None = None
) -> dict[int, list[ReportPhoto]]:
    out: dict[int, list[ReportPhoto]] = {}
    if not report_ids:
        return out
    stmt = select(ReportPhoto).where(ReportPhoto.report_id.in_(report_ids)).order_by(ReportPhoto.id)  # type: ignore[attr-defined]
    if kind:
        stmt = stmt.where(ReportPhoto.kind == kind)
    for photo in session.scalars(stmt):
        out.setdefault(photo.report_id, []).append(photo)
    return out


def history(
    session: Session, report_id: int, *, include_internal: bool
) -> list[tuple[ReportEvent, str]]:
    """The report's history (oldest first) with the actor's shown name ("" for the public view)."""
    stmt = (
        select(ReportEvent, User)
        .outerjoin(User, User.id == ReportEvent.actor_id)
        .where(ReportEvent.report_id == report_id)
        .order_by(ReportEvent.at, ReportEvent.id)
    )
    if not include_internal:
        stmt = stmt.where(ReportEvent.public.is_(True))  # type: ignore[attr-defined]
    out = []
    for event, user in session.execute(stmt):
        if user is None:
            who = ""
        elif user.role in ("staff", "admin"):
            who = (
                _("Agent de la communauté")
                if not include_internal
                else (user.display_name or user.email)
            )
        else:
            who = (user.display_name or user.email) if include_internal else ""
        out.append((event, who))
    return out


def nearby(
    session: Session,
    lat: float,
    lon: float,
    category: str | None,
    *,
    metres: float = NEARBY_METRES,
    limit: int = NEARBY_LIMIT,
    exclude: int | None = None,
    first: str | None = None,
    public: bool = False,
) -> list[tuple[Report, float]]:
    """Open public reports (of ``category`` if given) within ``metres``, nearest first.

    ``first``: reports of that category come before the others (the report form: any category, since
    a dump is often filed under another kind, the person's own kind first).
    ``public``: the place asked about and the reports are both taken at their
    rounded public positions, so the answer depends on nothing finer.
    """
    if public:
        lat, lon = public_position(lat, lon)
    dlat = metres / 111_000
    dlon = metres / (111_000 * max(0.1, math.cos(math.radians(lat))))
    stmt = select(Report).where(
        Report.status.in_(OPEN_STATUSES),  # type: ignore[attr-defined]
        Report.lat.between(lat - dlat, lat + dlat),
        Report.lon.between(lon - dlon, lon + dlon),  # type: ignore[attr-defined]
    )
    if category:
        stmt = stmt.where(Report.category == category)
    if exclude:
        stmt = stmt.where(Report.id != exclude)
    if public:  # the box is widened by the rounding so that no rounded neighbour is missed
        stmt = select(Report).where(
            Report.status.in_(OPEN_STATUSES),  # type: ignore[attr-defined]
            Report.lat.between(lat - dlat - 0.001, lat + dlat + 0.001),  # type: ignore[attr-defined]
            Report.lon.between(lon - dlon - 0.001, lon + dlon + 0.001),  # type: ignore[attr-defined]
            *([Report.category == category] if category else []),
            *([Report.id != exclude] if exclude else []),
        )
    found = [
        (
            r,
            geo.distance_m(
                lat, lon, *(public_position(r.lat, r.lon) if public else (r.lat, r.lon))
            ),
        )
        for r in session.scalars(stmt)
    ]
    found = [(r, d) for r, d in found if d <= metres]
    # Rounded positions often tie: the older report comes first (the one a newcomer would follow),
    # the same order on every database.
    found.sort(key=lambda rd: (first is not None and rd[0].category != first, rd[1], rd[0].id))
    return found[:limit]


@dataclass
class Filters:
    commune: str | None = None
    category: str | None = None
    status: str | None = None
    q: str | None = None

    @classmethod
    def parse(cls, params: Any, *, staff: bool) -> Filters:
        commune = (params.get("commune") or "").strip() or None
        category = (params.get("category") or "").strip() or None
        status = (params.get("status") or "").strip() or None
        q = (params.get("q") or "").strip()[:100] or None
        allowed = {*(STATUSES if staff else PUBLIC_STATUSES), "open", "closed"}
        return cls(
            commune=commune if commune and re.fullmatch(r"\d[0-9AB]\d{3}", commune) else None,
            category=category if category in CATEGORIES else None,
            status=status if status in allowed else None,
            q=q,
        )

    def apply(self, stmt: Any, *, staff: bool) -> Any:
        if not staff:
            stmt = stmt.where(Report.status.in_(PUBLIC_STATUSES))  # type: ignore[attr-defined]
        if self.commune:
            stmt = stmt.where(Report.commune_insee == self.commune)
        if self.category:
            stmt = stmt.where(Report.category == self.category)
        if self.status == "open":
            stmt = stmt.where(Report.status.in_(OPEN_STATUSES))  # type: ignore[attr-defined]
        elif self.status == "closed":
            stmt = stmt.where(Report.status.in_(CLOSED_STATUSES))  # type: ignore[attr-defined]
        elif self.status:
            stmt = stmt.where(Report.status == self.status)
        if self.q:
            ident = id_from_number(self.q)
            like = f"%{self.q.lower()}%"
            conds = [
                func.lower(Report.description).like(like),
                func.lower(Report.address).like(like),
            ]
            if ident:
                conds.append(Report.id == ident)
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
            )
            if v
        }


COUNT_CAP = 10_000  # lists count this far, then say "≥ 10000": the cost follows what is shown


def bounded_count(session: Session, ids: Any) -> tuple[int, bool]:
    """How many rows ``ids`` (a select of ids) returns, reading at most ``COUNT_CAP`` + 1; and whether capped."""
    n = int(
        session.scalar(select(func.count()).select_from(ids.limit(COUNT_CAP + 1).subquery())) or 0
    )
    return min(n, COUNT_CAP), n > COUNT_CAP


def communes(session: Session) -> list[Commune]:
    return list(session.scalars(select(Commune).order_by(Commune.name)))


def can_reopen(report: Report, user_id: int | None) -> bool:
    """The reporter may re-open a resolved report that is not fixed, within REOPEN_DAYS."""
    return (
        user_id is not None
        and report.reporter_id == user_id
        and report.status == "resolved"
        and report.resolved_at is not None
        and utcnow() - report.resolved_at <= timedelta(days=REOPEN_DAYS)
    )


# --- changes (staff and residents) ---------------------------------------------------------------


def _recipients(session: Session, report: Report, actor_id: int | None) -> list[int]:
    ids = set(
        session.scalars(select(ReportFollow.user_id).where(ReportFollow.report_id == report.id))
    )
    if report.reporter_id:
        ids.add(report.reporter_id)
    ids.discard(actor_id)  # type: ignore[arg-type]
    return sorted(ids)


def _tell(
    session: Session, report: Report, actor_id: int | None, title: str, body: str, event_id: int
) -> None:
    recipients = _recipients(session, report, actor_id)
    if recipients:
        notify(
            session,
            recipients,
            topic="my_reports",
            title=title,
            body=body,
            url=f"/reports/{report.id}",
            dedupe=f"report-event-{event_id}",
        )


def pickup_date_text(expected_at: datetime) -> str:
    """The planned pick-up day in words for the reader's locale: « samedi 12 décembre 2026 »."""
    from app.templating import format_date

    if expected_at.tzinfo is None:
        expected_at = expected_at.replace(tzinfo=UTC)
    return format_date(expected_at.astimezone(PARIS).date(), "full")


def original_of(session: Session, other: Report) -> Report:
    """The report a duplicate finally points to (a duplicate of a duplicate leads to the original)."""
    seen = {other.id}
    while (
        other.status == "duplicate" and other.duplicate_of_id and other.duplicate_of_id not in seen
    ):
        parent = session.get(Report, other.duplicate_of_id)
        if parent is None:
            break
        seen.add(parent.id)
        other = parent
    return other


def duplicate_differences(session: Session, report: Report, original: Report) -> list[str]:
    """What differs between a report and the one it would duplicate (commune, category), in words."""
    out = []
    if (report.commune_insee or "") != (original.commune_insee or ""):
        names = {c.insee: c.name for c in communes(session)}
        out.append(
            _("commune différente (%(a)s, l’original est à %(b)s)")
            % {
                "a": names.get(report.commune_insee or "", "—"),
                "b": names.get(original.commune_insee or "", "—"),
            }
        )
    if report.category != original.category:
        out.append(
            _("catégorie différente (%(a)s, l’original : %(b)s)")
            % {"a": _(CATEGORIES[report.category]), "b": _(CATEGORIES[original.category])}
        )
    return out


def _mark_duplicate(
    session: Session, report: Report, duplicate_of: str | None, confirm: bool
) -> tuple[Report, str]:
    other_id = id_from_number(duplicate_of or "")
    other = session.get(Report, other_id) if other_id else None
    if other is None or other.id == report.id or other.status == "hidden":
        raise ReportError(_("Indiquez le numéro du signalement d’origine."), "duplicate_of")
    original = original_of(session, other)
    if original.id == report.id:
        raise ReportError(
            _("Ce signalement est déjà marqué comme doublon de celui-ci."), "duplicate_of"
        )
    differences = duplicate_differences(session, report, original)
    if differences and not confirm:
        raise ReportError(
            _(
                "%(n)s : %(d)s. Cochez « Confirmer malgré la différence » pour le marquer quand même."
            )
            % {"n": number(original), "d": " ; ".join(differences)},
            "duplicate_confirm",
        )
    # Reports that were duplicates of this one now point to the original too: no chain ever forms.
    session.execute(
        update(Report)
        .where(Report.duplicate_of_id == report.id, Report.status == "duplicate")
        .values(duplicate_of_id=original.id)
    )
    report.duplicate_of_id = original.id
    text = _("Doublon de %(n)s.") % {"n": number(original)}
    if other.id != original.id:
        text += " " + _("(%(m)s était lui-même un doublon.)") % {"m": number(other)}
    if differences:
        text += " " + _("Confirmé malgré : %(d)s.") % {"d": " ; ".join(differences)}
    if report.reporter_id:
        session.merge(ReportFollow(report_id=original.id, user_id=report.reporter_id))
    return original, text


def change_status(
    session: Session,
    report: Report,
    to: str,
    *,
    actor_id: int | None,
    note: str = "",
    reject_reason_id: int | None = None,
    duplicate_of: str | None = None,
    duplicate_confirm: bool = False,
    expected_at: datetime | None = None,
    after_photo: images.ProcessedPhoto | None = None,
    media_dir: Path | None = None,
    notify_people: bool = True,
) -> ReportEvent:
    """Move a report to ``to`` (checked against TRANSITIONS), record it and tell the people concerned.

    Raises ReportError for a transition that is not allowed or a missing
    reason / duplicate reference / pick-up date. A duplicate points to the
    original (never to another duplicate); another commune or category needs
    ``duplicate_confirm``. An "after" photo given when resolving is stored
    with the report.
    """
    if to not in STATUSES:
        raise ReportError(_("État inconnu."), "status")
    if to == report.status:
        raise ReportError(_("Le signalement est déjà dans cet état."), "status")
    if to not in TRANSITIONS[report.status]:
        raise ReportError(
            _("Ce changement d’état n’est pas possible (de « %(a)s » à « %(b)s »).")
            % {"a": _(STATUSES[report.status]), "b": _(STATUSES[to])},
            "status",
        )
    note = note.strip()[:2000]
    text = note
    if to == "rejected":
        reason = session.get(RejectReason, reject_reason_id) if reject_reason_id else None
        if reason is None or not reason.active:
            raise ReportError(_("Choisissez le motif du rejet."), "reject_reason")
        report.reject_reason_id = reason.id
        text = reason.label + (f"\n{note}" if note else "")
    if to == "duplicate":
        _original, text = _mark_duplicate(session, report, duplicate_of, duplicate_confirm)
        text += f"\n{note}" if note else ""
    if to == "scheduled":
        if expected_at is None:
            raise ReportError(_("Indiquez la date d’enlèvement prévue."), "expected_on")
        report.expected_at = expected_at
        text = _("Enlèvement prévu le %(d)s.") % {"d": pickup_date_text(expected_at)} + (
            f"\n{note}" if note else ""
        )
    now = utcnow()
    previous = report.status
    report.status = to
    report.updated_at = now
    if to == "resolved":
        report.resolved_at = now
    elif previous == "resolved":
        report.resolved_at = None
    if to != "rejected":
        report.reject_reason_id = None if to in OPEN_STATUSES else report.reject_reason_id
    if to != "duplicate" and to in OPEN_STATUSES:
        report.duplicate_of_id = None
    if to != "hidden":
        report.status_notes = text
    if after_photo is not None and media_dir is not None:
        stored = images.save(after_photo, media_dir)
        session.add(
            ReportPhoto(
                report_id=report.id,
                kind="after",
                display_name=stored.display_name,
                thumb_name=stored.thumb_name,
                width=after_photo.width,
                height=after_photo.height,
                sha256=after_photo.sha256,
                uploaded_by=actor_id,
            )
        )
    event = ReportEvent(
        report_id=report.id,
        actor_id=actor_id,
        kind="status",
        from_status=previous,
        to_status=to,
        text=text,
        at=now,
        public=to != "hidden",
    )
    session.add(report)
    session.add(event)
    session.flush()
    events.publish(session, "reports", str(report.id), "status", {"from": previous, "to": to})
    if notify_people and to != "hidden":
        title = _("Votre signalement %(n)s : %(s)s") % {"n": number(report), "s": _(STATUSES[to])}
        body = text or _("Le signalement est maintenant « %(s)s ».") % {"s": _(STATUSES[to])}
        _tell(session, report, actor_id, title, body, event.id)  # type: ignore[arg-type]
    return event


def add_note(session: Session, report: Report, *, actor_id: int, text: str) -> ReportEvent:
    text = text.strip()[:2000]
    if not text:
        raise ReportError(_("La note est vide."), "note")
    event = ReportEvent(
        report_id=report.id, actor_id=actor_id, kind="note", text=text, public=False
    )
    session.add(event)
    session.flush()
    return event


def recategorise(session: Session, report: Report, category: str, *, actor_id: int) -> ReportEvent:
    if category not in CATEGORIES:
        raise ReportError(_("Catégorie inconnue."), "category")
    if category == report.category:
        raise ReportError(_("Le signalement est déjà dans cette catégorie."), "category")
    text = _("Catégorie : %(a)s → %(b)s") % {
        "a": _(CATEGORIES[report.category]),
        "b": _(CATEGORIES[category]),
    }
    report.category = category
    report.updated_at = utcnow()
    event = ReportEvent(report_id=report.id, actor_id=actor_id, kind="category", text=text)
    session.add_all([report, event])
    session.flush()
    _tell(
        session,
        report,
        actor_id,
        _("Votre signalement %(n)s a changé de catégorie") % {"n": number(report)},
        text,
        event.id,
    )  # type: ignore[arg-type]
    return event


def move(session: Session, report: Report, lat: float, lon: float, *, actor_id: int) -> ReportEvent:
    commune = commune_at(session, lat, lon)
    if commune is None:
        raise ReportError(
            _("Ce lieu est en dehors du territoire de la communauté de communes."), "place"
        )
    moved = geo.distance_m(report.lat, report.lon, lat, lon)
    report.lat, report.lon, report.approximate = lat, lon, False
    report.commune_insee = commune.insee
    report.updated_at = utcnow()
    event = ReportEvent(
        report_id=report.id,
        actor_id=actor_id,
        kind="moved",
        public=False,
        text=_("Point déplacé de %(m)d m (%(c)s).") % {"m": round(moved), "c": commune.name},
    )
    session.add_all([report, event])
    session.flush()
    return event


def reopen(session: Session, report: Report, *, user_id: int, text: str) -> ReportEvent:
    if not can_reopen(report, user_id):
        raise ReportError(_("Ce signalement ne peut plus être rouvert."))
    text = text.strip()[:2000]
    if not text:
        raise ReportError(_("Dites-nous ce qui reste sur place."), "text")
    report.status = "confirmed"
    report.resolved_at = None
    report.updated_at = utcnow()
    report.status_notes = ""
    event = ReportEvent(
        report_id=report.id,
        actor_id=user_id,
        kind="reopened",
        from_status="resolved",
        to_status="confirmed",
        text=text,
    )
    session.add_all([report, event])
    session.flush()
    _tell(
        session,
        report,
        user_id,
        _("Le signalement %(n)s est rouvert") % {"n": number(report)},
        text,
        event.id,
    )  # type: ignore[arg-type]
    return event


def follow(session: Session, report: Report, user_id: int, on: bool) -> None:
    row = session.get(ReportFollow, (report.id, user_id))
    if on and row is None:
        session.add(ReportFollow(report_id=report.id, user_id=user_id))  # type: ignore[arg-type]
    elif not on and row is not None:
        session.delete(row)
    session.flush()


def thank(session: Session, report: Report, user_id: int) -> bool:
    """Thank the agents once per person; False if already thanked."""
    if session.get(ReportThanks, (report.id, user_id)) is not None:
        return False
    session.add(ReportThanks(report_id=report.id, user_id=user_id))  # type: ignore[arg-type]
    session.execute(
        update(Report).where(Report.id == report.id).values(thanks_count=Report.thanks_count + 1)
    )
    session.flush()
    session.refresh(report)
    return True


# --- Open311 API keys -----------------------------------------------------------------------------


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_api_key(session: Session, name: str, created_by: int | None) -> tuple[ReportApiKey, str]:
    """A new API key: the row (hash only) and the key itself, shown once."""
    key = "e311_" + secrets.token_urlsafe(30)
    row = ReportApiKey(
        name=name.strip()[:120], key_hash=_key_hash(key), prefix=key[:10], created_by=created_by
    )
    session.add(row)
    session.flush()
    return row, key


def check_api_key(session: Session, key: str) -> ReportApiKey | None:
    if not key or len(key) > 200:
        return None
    row = session.scalars(
        select(ReportApiKey).where(ReportApiKey.key_hash == _key_hash(key))
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    return row


# --- statistics and export -------------------------------------------------------------------------


@dataclass
class Stats:
    total: int
    open: int
    by_commune: list[tuple[str, int]]
    by_category: list[tuple[str, int]]
    by_status: list[tuple[str, int]]
    by_month: list[tuple[str, int]]
    median_days_to_resolve: float | None
    resolved: int


def stats(session: Session, since: datetime | None = None) -> Stats:
    stmt = select(
        Report.status, Report.category, Report.commune_insee, Report.created_at, Report.resolved_at
    )
    if since is not None:
        stmt = stmt.where(Report.created_at >= since)
    rows = session.execute(stmt).all()
    names = {c.insee: c.name for c in communes(session)}
    by_commune: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    by_month: Counter[str] = Counter()
    durations = []
    for status, category, insee, created, resolved in rows:
        by_commune[names.get(insee or "", "—")] += 1
        by_category[category] += 1
        by_status[status] += 1
        by_month[created.strftime("%Y-%m")] += 1
        if status == "resolved" and resolved is not None:
            durations.append((resolved - created).total_seconds() / 86400)
    return Stats(
        total=len(rows),
        open=sum(by_status[s] for s in OPEN_STATUSES),
        by_commune=by_commune.most_common(),
        by_category=by_category.most_common(),
        by_status=[(s, by_status[s]) for s in STATUSES if by_status[s]],
        by_month=sorted(by_month.items()),
        median_days_to_resolve=round(statistics.median(durations), 1) if durations else None,
        resolved=len(durations),
    )


# (heading, what it holds): French headings, human labels, and the codes in their own columns.
CSV_COLUMNS: list[tuple[str, str]] = [
    (N_("Numéro"), "number"),
    (N_("Catégorie"), "category_label"),
    (N_("Code catégorie"), "category"),
    (N_("État"), "status_label"),
    (N_("Code état"), "status"),
    (N_("Commune"), "commune"),
    (N_("Code INSEE"), "insee"),
    (N_("Latitude"), "lat"),
    (N_("Longitude"), "lon"),
    (N_("Repère"), "address"),
    (N_("Description"), "description"),
    (N_("Volume"), "volume_label"),
    (N_("Code volume"), "volume"),
    (N_("Témoin"), "witnessed"),
    (N_("Origine"), "source"),
    (N_("Signalé le"), "created"),
    (N_("Mis à jour le"), "updated"),
    (N_("Enlèvement prévu le"), "expected"),
    (N_("Résolu le"), "resolved"),
    (N_("Personnes qui suivent"), "followers"),
    (N_("Remerciements"), "thanks"),
]


def csv_headings() -> list[str]:
    return [_(heading) for heading, _key in CSV_COLUMNS]


def _csv_time(value: datetime | None, *, date_only: bool = False) -> str:
    """A time as a spreadsheet reads it, in the territory's time: « 06/12/2026 14:30 »."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(PARIS)
    return local.strftime("%d/%m/%Y") if date_only else local.strftime("%d/%m/%Y %H:%M")


_CSV_READ = (
    Report.id,
    Report.category,
    Report.status,
    Report.commune_insee,
    Report.lat,
    Report.lon,
    Report.address,
    Report.description,
    Report.volume,
    Report.witnessed,
    Report.source,
    Report.created_at,
    Report.updated_at,
    Report.expected_at,
    Report.resolved_at,
    Report.thanks_count,
)


def export_csv(engine: Engine, filters: Filters, *, chunk: int = 1000) -> Iterator[bytes]:
    """The selected reports as CSV (UTF-8 with BOM so spreadsheets read the accents), streamed.

    Read by id in chunks of ``chunk`` rows (keyset paging, each chunk its own
    short read), encoded and handed out chunk by chunk: memory stays flat
    however many reports there are. Headings and labels are translated here,
    in the caller's language, before the first row is read.
    """
    with read_session(engine) as session:
        names = {c.insee: c.name for c in communes(session)}
    headings = csv_headings()
    categories = {k: _(v) for k, v in CATEGORIES.items()}
    statuses = {k: _(v) for k, v in STATUSES.items()}
    volumes = {k: _(v) for k, v in VOLUMES.items()}
    yes, no = _("oui"), _("non")
    return _csv_chunks(
        engine, filters, chunk, headings, names, categories, statuses, volumes, (yes, no)
    )


def _csv_chunks(
    engine: Engine,
    filters: Filters,
    chunk: int,
    headings: list[str],
    names: dict[str, str],
    categories: dict[str, str],
    statuses: dict[str, str],
    volumes: dict[str, str],
    yes_no: tuple[str, str],
) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";")
    buf.write("\ufeff")
    writer.writerow(headings)
    last = 0
    while True:
        with read_session(engine) as session:
            rows = session.execute(
                filters.apply(select(*_CSV_READ), staff=True)
                .where(Report.id > last)  # type: ignore[operator]
                .order_by(Report.id)
                .limit(chunk)
            ).all()
            follows = (
                dict(
                    session.execute(
                        select(ReportFollow.report_id, func.count())
                        .where(ReportFollow.report_id.in_([r.id for r in rows]))  # type: ignore[attr-defined]
                        .group_by(ReportFollow.report_id)
                    ).all()
                )
                if rows
                else {}
            )
        for r in rows:
            row = {
                "number": number(r),
                "category_label": categories.get(r.category, r.category),  # type: ignore[arg-type]
                "category": r.category,
                "status_label": statuses.get(r.status, r.status),
                "status": r.status,
                "commune": names.get(r.commune_insee or "", ""),
                "insee": r.commune_insee or "",
                "lat": f"{r.lat:.6f}".replace(".", ","),
                "lon": f"{r.lon:.6f}".replace(".", ","),
                "address": _csv_safe(r.address),
                "description": _csv_safe(r.description),
                "volume_label": volumes.get(r.volume or "", ""),
                "volume": r.volume or "",
                "witnessed": yes_no[0] if r.witnessed else yes_no[1],
                "source": r.source,
                "created": _csv_time(r.created_at),
                "updated": _csv_time(r.updated_at),
                "expected": _csv_time(r.expected_at, date_only=True),
                "resolved": _csv_time(r.resolved_at),
                "followers": follows.get(r.id, 0),
                "thanks": r.thanks_count,
            }
            writer.writerow([row[key] for _heading, key in CSV_COLUMNS])
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()
        if len(rows) < chunk:
            return
        last = rows[-1].id


def _csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection), wherever a cell could start."""
    return str(csv_cell(value))


# --- GDPR -----------------------------------------------------------------------------------------


def export_reports(session: Session, user_id: int, media_dir: Path) -> tuple[Any, list[Path]]:
    reports = session.scalars(
        select(Report).where(Report.reporter_id == user_id).order_by(Report.id)
    ).all()
    photos = photos_of(session, [r.id for r in reports])  # type: ignore[misc]
    files: list[Path] = []
    out = []
    for r in reports:
        names = []
        for p in photos.get(r.id, []):  # type: ignore[arg-type]
            try:
                files.append(images.open_path(p.display_name, media_dir))
                names.append(p.display_name)
            except (FileNotFoundError, images.InvalidPhotoName):
                continue
        out.append(
            {
                "number": number(r),
                "category": r.category,
                "status": r.status,
                "description": r.description,
                "volume": r.volume,
                "witnessed": r.witnessed,
                "lat": r.lat,
                "lon": r.lon,
                "address": r.address,
                "commune": r.commune_insee,
                "created_at": r.created_at.isoformat(),
                "updated_at": r.updated_at.isoformat(),
                "photos": names,
                "history": [
                    {"at": e.at.isoformat(), "kind": e.kind, "status": e.to_status, "text": e.text}
                    for e, _who in history(session, r.id, include_internal=False)
                ],  # type: ignore[arg-type]
            }
        )
    followed = [
        number(r)
        for r in session.scalars(
            select(Report)
            .join(ReportFollow, ReportFollow.report_id == Report.id)
            .where(
                ReportFollow.user_id == user_id,
                or_(Report.reporter_id.is_(None), Report.reporter_id != user_id),
            )  # type: ignore[union-attr]
        )
    ]
    return {"reports": out, "following": followed}, files


def erase_reports(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    """Public reports stay (the dump is still there), anonymised; follows and thanks go."""
    session.execute(
        update(Report)
        .where(Report.reporter_id == user_id)
        .values(reporter_id=None, contact_email=None, contact_name=None)
    )
    session.execute(
        update(ReportEvent).where(ReportEvent.actor_id == user_id).values(actor_id=None)
    )
    session.execute(
        update(ReportPhoto).where(ReportPhoto.uploaded_by == user_id).values(uploaded_by=None)
    )
    for model in (ReportFollow, ReportThanks):
        for row in session.scalars(select(model).where(model.user_id == user_id)):  # type: ignore[attr-defined]
            session.delete(row)
    session.flush()
    return []


DEFAULT_REJECT_REASONS = (
    "Hors du territoire de la communauté de communes",
    "Terrain privé : le propriétaire a été informé",
    "Dépôt introuvable à l'adresse indiquée",
    "Ne relève pas des dépôts sauvages (voirie, éclairage...)",
    "Signalement abusif ou sans rapport",
)


def ensure_reject_reasons(session: Session) -> list[RejectReason]:
    """The active reasons; the default list is added when there are none (new install, demo)."""
    reasons = reject_reasons(session)
    if not reasons:
        for label in DEFAULT_REJECT_REASONS:
            if (
                session.scalars(select(RejectReason).where(RejectReason.label == label)).first()
                is None
            ):
                session.add(RejectReason(label=label))
        session.flush()
        reasons = reject_reasons(session)
    return reasons


def response_templates(session: Session) -> list[ResponseTemplate]:
    return list(
        session.scalars(
            select(ResponseTemplate)
            .where(ResponseTemplate.active.is_(True))  # type: ignore[attr-defined]
            .order_by(ResponseTemplate.title)
        )
    )


def reject_reasons(session: Session, *, active_only: bool = True) -> list[RejectReason]:
    stmt = select(RejectReason).order_by(RejectReason.label)
    if active_only:
        stmt = stmt.where(RejectReason.active.is_(True))  # type: ignore[attr-defined]
    return list(session.scalars(stmt))


# --- demo data ------------------------------------------------------------------------------------

DEMO_REPORTS = [
    # (category, commune insee, description, volume, final status)
    (
        "bulky_items",
        "57038",
        "Un canapé et deux matelas au bout du chemin des Jardins.",
        "car",
        "new",
    ),
    (
        "household_waste",
        "54580",
        "Une dizaine de sacs poubelle éventrés près des conteneurs à verre.",
        "bag",
        "new",
    ),
    ("rubble", "57041", "Gravats et plaques de plâtre déversés à l'entrée du bois.", "van", "new"),
    ("tyres", "57529", "Une quinzaine de pneus sur le parking de la forêt.", "car", "new"),
    ("green_waste", "57565", "Tontes et branchages jetés dans le fossé.", "car", "new"),
    ("other", "57602", "Carcasse de scooter abandonnée depuis une semaine.", None, "new"),
    (
        "hazardous",
        "54523",
        "Bidons d'huile et pots de peinture au bord du ruisseau.",
        "bag",
        "confirmed",
    ),
    ("bulky_items", "57097", "Frigo et machine à laver derrière l'abribus.", "car", "confirmed"),
    (
        "household_waste",
        "57038",
        "Sacs de déchets au pied du point d'apport volontaire.",
        "bag",
        "confirmed",
    ),
    ("rubble", "54580", "Déblais de chantier sur le chemin agricole.", "truck", "confirmed"),
    ("bulky_items", "57529", "Meubles démontés sur le trottoir.", "van", "scheduled"),
    ("tyres", "57041", "Pneus de camion dans le talus.", "van", "scheduled"),
    ("green_waste", "54523", "Souches et branches en travers du sentier.", "van", "scheduled"),
    (
        "household_waste",
        "57565",
        "Sacs déposés chaque semaine au même endroit.",
        "bag",
        "in_progress",
    ),
    ("rubble", "57602", "Tuiles et briques dans la friche.", "car", "in_progress"),
    ("other", "57097", "Palettes et cartons près de la salle des fêtes.", "car", "in_progress"),
    ("bulky_items", "54580", "Matelas sous le pont.", "bag", "resolved"),
    ("household_waste", "57038", "Déchets épars sur l'aire de pique-nique.", "bag", "resolved"),
    ("green_waste", "57041", "Déchets verts au bord du terrain de foot.", "car", "resolved"),
    ("tyres", "54523", "Quatre pneus devant le cimetière.", "bag", "resolved"),
    ("other", "57529", "Dépôt sur un terrain privé clôturé.", None, "rejected"),
    ("rubble", "57097", "Petit tas de terre.", "bag", "rejected"),
    (
        "bulky_items",
        "57038",
        "Canapé au bout du chemin des Jardins (déjà signalé ?).",
        "car",
        "duplicate",
    ),
    (
        "household_waste",
        "57602",
        "Signalement contenant des informations personnelles.",
        "bag",
        "hidden",
    ),
]

_DEMO_PATHS = {
    "scheduled": ("confirmed", "scheduled"),
    "in_progress": ("confirmed", "in_progress"),
    "resolved": ("confirmed", "in_progress", "resolved"),
    "rejected": ("rejected",),
    "duplicate": ("duplicate",),
    "hidden": ("hidden",),
    "confirmed": ("confirmed",),
    "new": (),
}


def demo_photo(category: str, rng: Any, *, after: bool = False) -> bytes:
    """A simple drawn picture of a dump site (or of the cleaned place), as a phone JPEG."""
    from PIL import Image, ImageDraw

    width, height = 1024, 768
    ground = (96, 128, 70) if category in ("green_waste", "tyres", "rubble") else (120, 120, 118)
    image = Image.new("RGB", (width, height), ground)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, height // 3), fill=(150, 190, 230))
    draw.polygon(
        [
            (0, height // 3),
            (width, height // 3 - 60),
            (width, height // 3 + 40),
            (0, height // 3 + 80),
        ],
        fill=(70, 110, 60),
    )
    if not after:
        for _i in range(rng.randint(5, 12)):
            x, y = rng.randint(100, width - 200), rng.randint(height // 2, height - 150)
            if category == "tyres":
                draw.ellipse((x, y, x + 140, y + 140), fill=(25, 25, 25))
                draw.ellipse((x + 40, y + 40, x + 100, y + 100), fill=ground)
            elif category == "household_waste":
                draw.ellipse((x, y, x + 120, y + 150), fill=(20, 20, 24))
            elif category == "rubble":
                draw.polygon([(x, y + 120), (x + 80, y), (x + 180, y + 120)], fill=(170, 160, 150))
            elif category == "green_waste":
                draw.line((x, y, x + 180, y + 60), fill=(90, 60, 30), width=18)
            elif category == "hazardous":
                draw.rectangle((x, y, x + 70, y + 110), fill=(200, 40, 30))
            else:
                draw.rectangle(
                    (x, y, x + 200, y + 120), fill=(rng.randint(90, 200), rng.randint(60, 140), 60)
                )
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=82)
    return buf.getvalue()


def load_demo(session: Session, rng: Any, media_dir: Path) -> str | None:
    """Believable reports in every state across the communes (idempotent)."""
    from app.demo import demo_user

    if find_by_key(session, "demo-report-1") is not None:
        return None
    residents = [
        demo_user(session, e)
        for e in ("habitant@eclor.test", "voisine@eclor.test", "frontalier@eclor.test")
    ]
    agent = demo_user(session, "agent@eclor.test")
    reasons = ensure_reject_reasons(session)
    centres = {c.insee: c for c in communes(session)}
    made: list[Report] = []
    now = utcnow()
    for index, (category, insee, description, volume, final) in enumerate(DEMO_REPORTS, start=1):
        commune = centres[insee]
        reporter = residents[index % len(residents)]
        created = now - timedelta(days=rng.randint(1, 80), hours=rng.randint(0, 12))
        lat = commune.lat + rng.uniform(-0.006, 0.006)
        lon = commune.lon + rng.uniform(-0.008, 0.008)
        if final == "duplicate" and made:
            lat, lon = made[0].lat + 0.0002, made[0].lon + 0.0002
        report = Report(
            category=category,
            description=description,
            volume=volume,
            witnessed=index % 7 == 0,
            lat=lat,
            lon=lon,
            commune_insee=insee,
            reporter_id=reporter.id,
            source="web",
            idempotency_key=f"demo-report-{index}",
            created_at=created,
            updated_at=created,
        )
        session.add(report)
        session.flush()
        session.add(
            ReportEvent(
                report_id=report.id,
                actor_id=reporter.id,
                kind="created",
                to_status="new",
                at=created,
            )
        )
        session.add(ReportFollow(report_id=report.id, user_id=reporter.id))  # type: ignore[arg-type]
        processed = images.process(demo_photo(category, rng))
        stored = images.save(processed, media_dir)
        session.add(
            ReportPhoto(
                report_id=report.id,
                kind="overview",
                display_name=stored.display_name,
                thumb_name=stored.thumb_name,
                width=processed.width,
                height=processed.height,
                sha256=processed.sha256,
                uploaded_by=reporter.id,
                created_at=created,
            )
        )
        step_at = created
        for to in _DEMO_PATHS[final]:
            after = None
            if to == "resolved":
                after = images.process(demo_photo(category, rng, after=True))
            event = change_status(
                session,
                report,
                to,
                actor_id=agent.id,
                notify_people=False,
                note={
                    "confirmed": "Vu sur place, merci.",
                    "scheduled": "Une équipe passera avec la benne.",
                    "resolved": "Le dépôt a été enlevé.",
                }.get(to, ""),
                reject_reason_id=reasons[index % len(reasons)].id if reasons else None,
                duplicate_of=number(made[0]) if made else None,
                expected_at=now + timedelta(days=rng.randint(1, 6)) if to == "scheduled" else None,
                after_photo=after,
                media_dir=media_dir,
            )
            step_at = min(now, step_at + timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 8)))
            event.at = step_at
            report.updated_at = step_at
            if to == "resolved":
                report.resolved_at = step_at
        made.append(report)
    session.flush()
    return f"{len(made)} dump-site reports with photos, in every state"


def load_demo_reports(session: Session, rng: Any) -> str | None:
    from app.settings import get_settings

    return load_demo(session, rng, get_settings().resolved_media_dir)
