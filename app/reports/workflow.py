"""Dump-site reports: what staff do with them, and what residents do after reporting.

``change_status`` and the other staff changes (notes, category, position,
duplicates, reopening) each write a line of history and notify the reporter
and the followers (``app.notify``); residents follow and thank; Open311 API
keys; reject reasons and response templates.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, col, select

from app import bodies, events, geo, images
from app.db import saved_id, utcnow
from app.i18n import gettext as _
from app.models.reports import (
    DEFAULT_REJECT_REASONS,
    RejectReason,
    Report,
    ReportApiKey,
    ReportEvent,
    ReportFollow,
    ReportPhoto,
    ReportThanks,
    ResponseTemplate,
)
from app.models.territory import Territory
from app.notify import notify
from app.reports import body_mail
from app.reports import categories as cats
from app.territories import default_territory
from app.reports.catalogue import (
    OPEN_STATUSES,
    REOPEN_DAYS,
    STATUSES,
    TRANSITIONS,
    ReportError,
    commune_at,
    communes,
    id_from_number,
    number,
    report_in,
)
from app.territories import zone as territory_zone


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
        session.scalars(
            select(col(ReportFollow.user_id)).where(col(ReportFollow.report_id) == report.id)
        )
    )
    if report.reporter_id:
        ids.add(report.reporter_id)
    ids.discard(actor_id)
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


def pickup_date_text(expected_at: datetime, zone: ZoneInfo) -> str:
    """The planned pick-up day (in ``zone``, the report's territory's) in words for the reader's
    locale: « samedi 12 décembre 2026 »."""
    from app.templating import format_date

    if expected_at.tzinfo is None:
        expected_at = expected_at.replace(tzinfo=UTC)
    return format_date(expected_at.astimezone(zone).date(), "full")


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
        known = cats.of_territory(session, report.territory_id)
        out.append(
            _("catégorie différente (%(a)s, l’original : %(b)s)")
            % {"a": known.name(report.category), "b": known.name(original.category)}
        )
    return out


def _mark_duplicate(
    session: Session, report: Report, duplicate_of: str | None, confirm: bool
) -> tuple[Report, str]:
    other_id = id_from_number(duplicate_of or "")
    # Only a report of the same territory: another territory's is not there for its staff.
    other = report_in(session, other_id, report.territory_id) if report.territory_id else None
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
        .where(col(Report.duplicate_of_id) == report.id, col(Report.status) == "duplicate")
        .values(duplicate_of_id=original.id)
    )
    report.duplicate_of_id = original.id
    text = _("Doublon de %(n)s.") % {"n": number(original)}
    if other.id != original.id:
        text += " " + _("(%(m)s était lui-même un doublon.)") % {"m": number(other)}
    if differences:
        text += " " + _("Confirmé malgré : %(d)s.") % {"d": " ; ".join(differences)}
    if report.reporter_id:
        session.merge(ReportFollow(report_id=saved_id(original), user_id=report.reporter_id))
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
    # The events outbox's lock before this report's row (and the counts its trigger keeps) is
    # changed: a bulk change holds that lock while it locks its reports in id order, so taking it
    # after the update would wait for the bulk while holding a report it waits for (PostgreSQL).
    events.hold(session)
    note = note.strip()[:2000]
    text = note
    if to == "rejected":
        reason = reject_reason(session, reject_reason_id, report.territory_id)
        if reason is None:
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
        text = _("Enlèvement prévu le %(d)s.") % {
            "d": pickup_date_text(expected_at, territory_zone(session, report.territory_id))
        } + (f"\n{note}" if note else "")
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
                report_id=saved_id(report),
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
        report_id=saved_id(report),
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
    events.publish(
        session,
        "reports",
        str(report.id),
        "status",
        {"from": previous, "to": to},
        territory_id=report.territory_id,
    )
    if notify_people and to != "hidden":
        title = _("Votre signalement %(n)s : %(s)s") % {"n": number(report), "s": _(STATUSES[to])}
        body = text or _("Le signalement est maintenant « %(s)s ».") % {"s": _(STATUSES[to])}
        _tell(session, report, actor_id, title, body, saved_id(event))
    return event


def add_note(session: Session, report: Report, *, actor_id: int, text: str) -> ReportEvent:
    text = text.strip()[:2000]
    if not text:
        raise ReportError(_("La note est vide."), "note")
    event = ReportEvent(
        report_id=saved_id(report), actor_id=actor_id, kind="note", text=text, public=False
    )
    session.add(event)
    session.flush()
    return event


def recategorise(session: Session, report: Report, category: str, *, actor_id: int) -> ReportEvent:
    known = cats.of_territory(session, report.territory_id)
    if category == report.category:
        raise ReportError(_("Le signalement est déjà dans cette catégorie."), "category")
    if not known.is_offered(category):
        raise ReportError(_("Catégorie inconnue."), "category")
    text = _("Catégorie : %(a)s → %(b)s") % {
        "a": known.name(report.category),
        "b": known.name(category),
    }
    report.category = category
    report.updated_at = utcnow()
    text += _reroute(session, report)
    event = ReportEvent(report_id=saved_id(report), actor_id=actor_id, kind="category", text=text)
    session.add_all([report, event])
    session.flush()
    _tell(
        session,
        report,
        actor_id,
        _("Votre signalement %(n)s a changé de catégorie") % {"n": number(report)},
        text,
        saved_id(event),
    )
    return event


def move(session: Session, report: Report, lat: float, lon: float, *, actor_id: int) -> ReportEvent:
    commune = commune_at(session, lat, lon)
    if commune is None:
        raise ReportError(
            _("Ce lieu est en dehors du territoire de la communauté de communes."), "place"
        )
    moved = geo.distance_m(report.lat, report.lon, lat, lon)
    text = _("Point déplacé de %(m)d m (%(c)s).") % {"m": round(moved), "c": commune.name}
    if commune.territory_id != report.territory_id:
        # The place is another territory's: the report is handed to it, as at intake.
        territory = session.get(Territory, commune.territory_id)
        text += " " + _("Transmis au territoire « %(t)s », responsable de ce lieu.") % {
            "t": territory.name if territory else ""
        }
        category = cats.carried_over(session, commune.territory_id, report.category)
        if category != report.category:
            text += " " + cats.carried_text(
                session, report.category, category, commune.territory_id
            )
            report.category = category
    report.lat, report.lon, report.approximate = lat, lon, False
    report.commune_insee = commune.insee
    report.territory_id = commune.territory_id
    report.updated_at = utcnow()
    text += _reroute(session, report)
    event = ReportEvent(
        report_id=saved_id(report),
        actor_id=actor_id,
        kind="moved",
        public=False,
        text=text,
    )
    session.add_all([report, event])
    session.flush()
    return event


def _reroute(session: Session, report: Report) -> str:
    """Send the report to the body now responsible for its commune and category; what to add to
    the event's text when that changes the body."""
    body = bodies.responsible(session, report.territory_id, report.commune_insee, report.category)
    body_id = body.id if body else None
    if body_id == report.body_id:
        return ""
    report.body_id = body_id
    if body is not None:
        body_mail.queue(session, report, body.id, body.contact_email)
    return " " + _("Transmis à : %(b)s.") % {
        "b": body.name if body else _territory_name(session, report)
    }


def _territory_name(session: Session, report: Report) -> str:
    territory = session.get(Territory, report.territory_id) if report.territory_id else None
    return (territory.publisher or territory.name) if territory else ""


def hand_to_body(
    session: Session, report: Report, body_id: int | None, *, actor_id: int
) -> ReportEvent:
    """Staff hand the report to another body of its territory (None: the territory itself); the
    reporter and followers are told who handles it now."""
    tree = bodies.of_territory(session, report.territory_id)
    name = (
        bodies.name_of(tree, body_id) if body_id is not None else _territory_name(session, report)
    )
    if name is None:
        raise ReportError(_("Organisme inconnu sur ce territoire."), "body")
    if body_id == report.body_id:
        raise ReportError(_("Le signalement est déjà traité par cet organisme."), "body")
    report.body_id = body_id
    report.updated_at = utcnow()
    contact = next((n.contact_email for n in tree if n.id == body_id), "")
    body_mail.queue(session, report, body_id, contact)
    text = _("Transmis à : %(b)s.") % {"b": name}
    event = ReportEvent(report_id=saved_id(report), actor_id=actor_id, kind="body", text=text)
    session.add_all([report, event])
    session.flush()
    _tell(
        session,
        report,
        actor_id,
        _("Votre signalement %(n)s est transmis à %(b)s") % {"n": number(report), "b": name},
        text,
        saved_id(event),
    )
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
        report_id=saved_id(report),
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
        saved_id(event),
    )
    return event


def follow(session: Session, report: Report, user_id: int, on: bool) -> None:
    row = session.get(ReportFollow, (report.id, user_id))
    if on and row is None:
        session.add(ReportFollow(report_id=saved_id(report), user_id=user_id))
    elif not on and row is not None:
        session.delete(row)
    session.flush()


def thank(session: Session, report: Report, user_id: int) -> bool:
    """Thank the agents once per person; False if already thanked."""
    if session.get(ReportThanks, (report.id, user_id)) is not None:
        return False
    session.add(ReportThanks(report_id=saved_id(report), user_id=user_id))
    session.execute(
        update(Report)
        .where(col(Report.id) == report.id)
        .values(thanks_count=col(Report.thanks_count) + 1)
    )
    session.flush()
    session.refresh(report)
    return True


# --- Open311 API keys -----------------------------------------------------------------------------


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_api_key(
    session: Session, name: str, created_by: int | None, territory_id: int | None = None
) -> tuple[ReportApiKey, str]:
    """A new API key of the territory (the default one when none is named): the row (hash only)
    and the key itself, shown once."""
    key = "e311_" + secrets.token_urlsafe(30)
    row = ReportApiKey(
        name=name.strip()[:120],
        key_hash=_key_hash(key),
        prefix=key[:10],
        created_by=created_by,
        territory_id=territory_id,
    )
    session.add(row)
    session.flush()
    return row, key


def check_api_key(
    session: Session, key: str, territory_id: int | None = None
) -> ReportApiKey | None:
    """The key's row if it is valid (and, given ``territory_id``, that territory's: a key is
    accepted on its own territory's hosts only)."""
    if not key or len(key) > 200:
        return None
    row = session.scalars(
        select(ReportApiKey).where(col(ReportApiKey.key_hash) == _key_hash(key))
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    if territory_id is not None and row.territory_id != territory_id:
        return None
    return row


def ensure_reject_reasons(session: Session, territory_id: int | None = None) -> list[RejectReason]:
    """The territory's (by default the first's) active reasons; the default list is added when it
    has none (demo)."""
    if territory_id is None:
        default = default_territory(session)
        territory_id = default.id if default else None
    reasons = reject_reasons(session, territory_id)
    if not reasons:
        taken = set(
            session.scalars(
                select(col(RejectReason.label)).where(
                    col(RejectReason.territory_id) == territory_id
                )
            )
        )
        session.add_all(
            RejectReason(label=label, territory_id=territory_id)
            for label in DEFAULT_REJECT_REASONS
            if label not in taken
        )
        session.flush()
        reasons = reject_reasons(session, territory_id)
    return reasons


def response_templates(
    session: Session, territory_id: int | None = None, *, active_only: bool = True
) -> list[ResponseTemplate]:
    """The territory's response templates (every territory's when none is named), by title."""
    stmt = select(ResponseTemplate).order_by(col(ResponseTemplate.title))
    if territory_id is not None:
        stmt = stmt.where(col(ResponseTemplate.territory_id) == territory_id)
    if active_only:
        stmt = stmt.where(col(ResponseTemplate.active).is_(True))
    return list(session.scalars(stmt))


def reject_reasons(
    session: Session, territory_id: int | None = None, *, active_only: bool = True
) -> list[RejectReason]:
    """The territory's reject reasons (every territory's when none is named), by label."""
    stmt = select(RejectReason).order_by(col(RejectReason.label))
    if territory_id is not None:
        stmt = stmt.where(col(RejectReason.territory_id) == territory_id)
    if active_only:
        stmt = stmt.where(col(RejectReason.active).is_(True))
    return list(session.scalars(stmt))


def reject_reason(
    session: Session, reason_id: int | None, territory_id: int | None
) -> RejectReason | None:
    """An active reason of the territory (another territory's is none; any territory's when none is
    named)."""
    reason = session.get(RejectReason, reason_id) if reason_id else None
    if reason is None or not reason.active:
        return None
    if territory_id is not None and reason.territory_id != territory_id:
        return None
    return reason
