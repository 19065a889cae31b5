"""Dump-site reports coming in: creation, photos, history and reports nearby.

``create_report`` is idempotent (a client-made key makes a replay, a double
tap or a retry answer the first report); photos are checked and re-encoded
before anything is written, and the report is kept even when a photo cannot
be stored after it was accepted.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import bodies, events, geo, images
from app.db import saved_id, utcnow, write_session
from app.i18n import gettext as _
from app.models.accounts import User
from app.models.reports import (
    Report,
    ReportEvent,
    ReportFollow,
    ReportPhoto,
)
from app.models.territory import Commune
from app.reports import body_mail
from app.reports import categories as cats
from app.reports.catalogue import (
    MAX_PHOTOS,
    NEARBY_LIMIT,
    NEARBY_METRES,
    OPEN_STATUSES,
    ReportError,
    commune_at,
    log,
    public_position,
    scoped,
)

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
    address_id: str | None = None  # the BAN id the place was read from
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
    return session.scalars(select(Report).where(col(Report.idempotency_key) == key)).first()


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
            # A report handed to another territory takes that territory's nearest category.
            category = cats.carried_over(session, commune.territory_id, new.category)
            body = bodies.responsible(session, commune.territory_id, commune.insee, category)
            report = Report(
                category=category,
                description=new.description,
                volume=new.volume,
                witnessed=new.witnessed,
                lat=lat,
                lon=lon,
                approximate=approximate,
                address=new.address,
                address_id=new.address_id,
                commune_insee=commune.insee,
                territory_id=commune.territory_id,
                body_id=body.id if body else None,
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
            if body is not None:
                body_mail.queue(session, report, body.id, body.contact_email)
            for photo, names in stored:
                session.add(
                    ReportPhoto(
                        report_id=saved_id(report),
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
            if category != new.category:
                text = " ".join(
                    filter(
                        None,
                        (
                            text,
                            cats.carried_text(
                                session, new.category, category, commune.territory_id
                            ),
                        ),
                    )
                )
            session.add(
                ReportEvent(
                    report_id=saved_id(report),
                    actor_id=new.reporter_id,
                    kind="created",
                    to_status="new",
                    text=text,
                    at=now,
                )
            )
            if new.reporter_id:
                session.add(ReportFollow(report_id=saved_id(report), user_id=new.reporter_id))
            session.flush()
            events.publish(
                session,
                "reports",
                str(report.id),
                "created",
                {"status": "new", "category": report.category, "commune": report.commune_insee},
                territory_id=report.territory_id,
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
    stmt = (
        select(ReportPhoto)
        .where(col(ReportPhoto.report_id).in_(report_ids))
        .order_by(col(ReportPhoto.id))
    )
    if kind:
        stmt = stmt.where(col(ReportPhoto.kind) == kind)
    for photo in session.scalars(stmt):
        out.setdefault(photo.report_id, []).append(photo)
    return out


def history(
    session: Session, report_id: int, *, include_internal: bool
) -> list[tuple[ReportEvent, str]]:
    """The report's history (oldest first) with the actor's shown name ("" for the public view)."""
    stmt = (
        select(ReportEvent, User)
        .outerjoin(User, col(User.id) == col(ReportEvent.actor_id))
        .where(col(ReportEvent.report_id) == report_id)
        .order_by(col(ReportEvent.at), col(ReportEvent.id))
    )
    if not include_internal:
        stmt = stmt.where(col(ReportEvent.public).is_(True))
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
    territory_id: int | None = None,
) -> list[tuple[Report, float]]:
    """Open public reports (of ``category`` if given) within ``metres``, nearest first.

    ``first``: reports of that category come before the others (the report form: any category, since
    a dump is often filed under another kind, the person's own kind first).
    ``territory_id``: that territory's reports only (a request's).
    ``public``: the place asked about and the reports are both taken at their
    rounded public positions, so the answer depends on nothing finer.
    """
    if public:
        lat, lon = public_position(lat, lon)
    dlat = metres / 111_000
    dlon = metres / (111_000 * max(0.1, math.cos(math.radians(lat))))
    stmt = select(Report).where(
        col(Report.status).in_(OPEN_STATUSES),
        col(Report.lat).between(lat - dlat, lat + dlat),
        col(Report.lon).between(lon - dlon, lon + dlon),
    )
    if category:
        stmt = stmt.where(col(Report.category) == category)
    if exclude:
        stmt = stmt.where(col(Report.id) != exclude)
    if public:  # the box is widened by the rounding so that no rounded neighbour is missed
        stmt = select(Report).where(
            col(Report.status).in_(OPEN_STATUSES),
            col(Report.lat).between(lat - dlat - 0.001, lat + dlat + 0.001),
            col(Report.lon).between(lon - dlon - 0.001, lon + dlon + 0.001),
            *([col(Report.category) == category] if category else []),
            *([col(Report.id) != exclude] if exclude else []),
        )
    stmt = scoped(stmt, territory_id)
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
