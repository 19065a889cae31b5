"""Alerts to and from CAP 1.2: a CAP message published as an alert (new, Update, Cancel) and an alert written as CAP."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from app import push as webpush
from app import xmltext
from app.alerts import cap, cap_areas, cap_read, cap_write
from app.alerts.publish import alert_payload, attach_update, latest_of_thread, queue_fanout
from app.alerts.topics import (
    CAP_BODY_MAX,
    CATEGORY_TOPIC,
    TITLE_MAX,
    TOPICS,
    AlertError,
    commune_names,
    pack,
    unpack,
)
from app.db import saved_id, utcnow
from app.i18n import gettext as _
from app.models.push import (
    Alert,
)
from app.models.territory import Commune

# --- CAP import and export ----------------------------------------------------------------------


def _pick_info(alert: cap.CapAlert) -> cap.CapInfo | None:
    for info in alert.infos:
        if info.language.lower().startswith("fr"):
            return info
    return alert.infos[0] if alert.infos else None


def import_cap(
    session: Session,
    document: bytes,
    *,
    user_id: int | None = None,
    topic: str | None = None,
    now: datetime | None = None,
) -> Alert:
    """Read a CAP 1.2 document and publish it (Alert) or amend the alert it references (Update, Cancel).

    Raises :class:`app.alerts.cap.CapError` for invalid CAP (field path and French
    message) and :class:`AlertError` for valid CAP that Eclor does not take
    (not Actual, not Public, no commune of the territory, unknown reference,
    already imported). Nothing is written when it raises.
    """
    now = now or utcnow()
    parsed = cap_read.parse(document)
    if parsed.status != "Actual":
        raise AlertError(
            _("Seuls les messages « Actual » sont diffusés (reçu : {s}).").format(s=parsed.status)
        )
    if parsed.scope != "Public":
        raise AlertError(_("Seuls les messages publics (scope « Public ») sont diffusés."))
    if parsed.msgType not in ("Alert", "Update", "Cancel"):
        raise AlertError(_("Type de message non pris en charge : {t}.").format(t=parsed.msgType))
    if (
        session.scalars(
            select(col(Alert.id)).where(
                col(Alert.sender) == parsed.sender, col(Alert.identifier) == parsed.identifier
            )
        ).first()
        is not None
    ):
        raise AlertError(_("Ce message CAP a déjà été importé."))
    if topic is not None and topic not in TOPICS:
        raise AlertError(_("Sujet inconnu."), "topic")
    info = _pick_info(parsed)
    if info is None:
        raise AlertError(_("Le message ne contient aucun bloc « info » à diffuser."))
    original: Alert | None = None
    if parsed.msgType in ("Update", "Cancel"):
        for ref in reversed(parsed.references):
            original = session.scalars(
                select(Alert).where(
                    col(Alert.sender) == ref.sender, col(Alert.identifier) == ref.identifier
                )
            ).first()
            if original is not None:
                break
        if original is None:
            raise AlertError(
                _(
                    "Le message fait référence à une alerte inconnue d’Eclor : importez d’abord "
                    "l’alerte d’origine."
                )
            )
        original = latest_of_thread(session, original)
        if original.state != "active" or original.msg_type == "Cancel":
            raise AlertError(_("L’alerte référencée a déjà été levée."))
    communes = session.scalars(select(Commune)).all()
    areas = [area for i in parsed.infos for area in i.areas] if not info.areas else info.areas
    matched = cap_areas.match_communes(areas, communes)
    if parsed.msgType != "Cancel" and not matched:
        raise AlertError(
            _("La zone de l’alerte ne couvre aucune commune du territoire : rien à diffuser.")
        )
    everywhere = bool(matched) and len(matched) == len(communes)
    chosen = topic or CATEGORY_TOPIC.get(info.category[0] if info.category else "Other", "general")
    description = (info.description or "").strip()
    if len(description) > CAP_BODY_MAX:
        description = description[: CAP_BODY_MAX - 1].rstrip() + "…"
    title = (info.headline or info.event).strip()[:TITLE_MAX]
    link = info.web if info.web and info.web.startswith("https://") else ""
    alert = Alert(
        identifier=parsed.identifier,
        sender=parsed.sender,
        sent_at=parsed.sent,
        status=parsed.status,
        msg_type=parsed.msgType,
        scope=parsed.scope,
        cap_references=" ".join(
            f"{r.sender},{r.identifier},{cap.format_time(r.sent)}" for r in parsed.references
        )
        or None,
        note=(parsed.note or "")[:500] or None,
        category=info.category[0] if info.category else "Other",
        event=info.event[:200],
        cap_urgency=info.urgency,
        severity=info.severity,
        certainty=info.certainty,
        onset_at=info.onset,
        expires_at=info.expires,
        sender_name=(info.senderName or "")[:200],
        title=title,
        body=description,
        instruction=(info.instruction or "").strip(),
        link=link[:500],
        area_desc="; ".join(a.areaDesc for a in info.areas)[:500],
        topic=chosen,
        communes="," if everywhere else pack(matched),
        push_urgency=cap_areas.push_urgency(info),
        ttl_s=cap_areas.push_ttl(info, now),
        source="cap",
        cap_xml=document.decode("utf-8", "replace"),
        created_by=user_id,
    )
    if parsed.msgType == "Cancel":
        alert.state = "cancelled"
        alert.push_urgency = "normal"
        if not alert.body:
            alert.body = _("Cette alerte est terminée.")
    if _encoded_size(alert) > webpush.MAX_PLAINTEXT_BYTES:
        raise AlertError(_("Le titre de l’alerte est trop long pour une notification."))
    if original is None:
        session.add(alert)
        session.flush()
        alert.thread_id = alert.id
        queue_fanout(session, alert)
        return alert
    return attach_update(session, original, alert, original.thread_id or saved_id(original))


def _encoded_size(alert: Alert) -> int:
    import json

    payload = alert_payload(alert)
    payload["url"] = "/alerts/0000000"
    payload["tag"] = "alert-0000000"
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def to_cap(session: Session, alert: Alert, base_url: str) -> bytes:
    """The alert as a CAP 1.2 document: an imported one as received, Eclor's own as written here."""
    if alert.cap_xml:
        return alert.cap_xml.encode("utf-8")
    base = base_url.rstrip("/")
    names = commune_names(session)
    codes = unpack(alert.communes) or sorted(names)
    references: list[cap.CapReference] = []
    if alert.cap_references:
        for token in alert.cap_references.split():
            sender, identifier, sent = token.split(",")
            references.append(cap.CapReference(sender, identifier, cap.parse_time(sent)))
    link = alert.link or f"/alerts/{alert.id}"
    clean = xmltext.clean  # what people typed may hold characters XML cannot carry
    info = cap.CapInfo(
        language="fr-FR",
        category=[cap.one_of(alert.category, cap.CATEGORIES, "category")],
        event=clean(alert.event),
        urgency=cap.one_of(alert.cap_urgency, cap.URGENCIES, "urgency"),
        severity=cap.one_of(alert.severity, cap.SEVERITIES, "severity"),
        certainty=cap.one_of(alert.certainty, cap.CERTAINTIES, "certainty"),
        onset=alert.onset_at,
        expires=alert.expires_at.replace(microsecond=0) if alert.expires_at else None,
        senderName=clean(alert.sender_name) or None,
        headline=clean(alert.title),
        description=clean(alert.body) or None,
        instruction=clean(alert.instruction) or None,
        web=link if link.startswith("https://") else base + link,
        areas=[
            cap.CapArea(
                areaDesc=clean(alert.area_desc) or _("Tout le territoire"),
                geocodes=[cap.CapValue("INSEE", code) for code in codes],
            )
        ],
    )
    document = cap.CapAlert(
        identifier=alert.identifier,
        sender=alert.sender,
        sent=alert.sent_at,
        status=cap.one_of(alert.status, cap.STATUSES, "status"),
        msgType=cap.one_of(alert.msg_type, cap.MSG_TYPES, "msgType"),
        scope=cap.one_of(alert.scope, cap.SCOPES, "scope"),
        note=clean(alert.note) if alert.note else alert.note,
        references=references,
        infos=[info],
    )
    return cap_write.to_xml(document)
