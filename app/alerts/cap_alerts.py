"""Alerts to and from CAP 1.2: a CAP message published as an alert (new, Update, Cancel) and an alert written as CAP."""

from __future__ import annotations

from datetime import datetime, timedelta

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
    pack,
    unpack,
)
from app.db import saved_id, utcnow
from app.i18n import gettext as _
from app.models.push import Alert, CapIgnored
from app.models.territory import Commune

# --- CAP import and export ----------------------------------------------------------------------


def _pick_info(alert: cap.CapAlert) -> cap.CapInfo | None:
    for info in alert.infos:
        if info.language.lower().startswith("fr"):
            return info
    return alert.infos[0] if alert.infos else None


def _find_original(session: Session, parsed: cap.CapAlert) -> Alert | None:
    """The latest message of the thread an Update or Cancel references, if Eclor has it."""
    for ref in reversed(parsed.references):
        original = session.scalars(
            select(Alert).where(
                col(Alert.sender) == ref.sender, col(Alert.identifier) == ref.identifier
            )
        ).first()
        if original is not None:
            return latest_of_thread(session, original)
    return None


def _references_text(parsed: cap.CapAlert) -> str | None:
    return (
        " ".join(f"{r.sender},{r.identifier},{cap.format_time(r.sent)}" for r in parsed.references)
        or None
    )


def _ignore(
    session: Session, parsed: cap.CapAlert, document: bytes, reason: str, user_id: int | None
) -> CapIgnored:
    row = CapIgnored(
        identifier=parsed.identifier,
        sender=parsed.sender,
        sent_at=parsed.sent,
        msg_type=parsed.msgType,
        cap_references=_references_text(parsed),
        reason=reason[:300],
        cap_document=document,
        created_by=user_id,
    )
    session.add(row)
    session.flush()
    return row


def _already_received(session: Session, parsed: cap.CapAlert) -> bool:
    for model in (Alert, CapIgnored):
        found = session.scalars(
            select(col(model.id)).where(
                col(model.sender) == parsed.sender, col(model.identifier) == parsed.identifier
            )
        ).first()
        if found is not None:
            return True
    return False


def import_cap(
    session: Session,
    document: bytes,
    *,
    user_id: int | None = None,
    topic: str | None = None,
    now: datetime | None = None,
    territory_id: int | None = None,
) -> Alert | CapIgnored:
    """Read a CAP 1.2 document and publish it (Alert) or amend the alert it references (Update, Cancel).

    As national feeds send them: a Cancel without ``info`` ends the alert it
    references; an Update of an alert Eclor never saw is published as a new
    alert when it covers the territory; a Cancel of an alert Eclor never saw
    (or of one already ended) is recorded and ignored (a :class:`CapIgnored`
    row is returned). The document is kept byte for byte, in its declared
    encoding.

    Raises :class:`app.alerts.cap.CapError` for invalid CAP (field path and French
    message) and :class:`AlertError` for valid CAP that Eclor does not take
    (not Actual, not Public, no commune of the territory, already received).
    Nothing is written when it raises. ``territory_id``: the territory importing it, whose
    communes its areas must cover (an Update or Cancel stays in its original's territory).
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
    if _already_received(session, parsed):
        raise AlertError(_("Ce message CAP a déjà été importé."))
    if topic is not None and topic not in TOPICS:
        raise AlertError(_("Sujet inconnu."), "topic")
    original = _find_original(session, parsed) if parsed.msgType != "Alert" else None
    if parsed.msgType == "Cancel":
        if original is None:
            return _ignore(
                session,
                parsed,
                document,
                _("Annulation d’une alerte qu’Eclor n’a jamais reçue : enregistrée et ignorée."),
                user_id,
            )
        if original.state != "active" or original.msg_type == "Cancel":
            return _ignore(
                session,
                parsed,
                document,
                _("Annulation d’une alerte déjà levée : enregistrée et ignorée."),
                user_id,
            )
    elif original is not None and (original.state != "active" or original.msg_type == "Cancel"):
        raise AlertError(_("L’alerte référencée a déjà été levée."))
    info = _pick_info(parsed)
    if info is None:
        if parsed.msgType == "Cancel" and original is not None:
            alert = _cancel_without_info(parsed, original, document, user_id)
            return attach_update(session, original, alert, original.thread_id or saved_id(original))
        raise AlertError(_("Le message ne contient aucun bloc « info » à diffuser."))
    # The communes of the territory importing it (None: every commune of the install).
    query = select(Commune)
    if territory_id:
        query = query.where(col(Commune.territory_id) == territory_id)
    communes = session.scalars(query).all()
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
        cap_references=_references_text(parsed),
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
        cap_xml=cap_read.document_text(document),
        cap_document=document,
        created_by=user_id,
    )
    if parsed.msgType == "Cancel":
        alert.state = "cancelled"
        alert.push_urgency = "normal"
        if not alert.body:
            alert.body = _("Cette alerte est terminée.")
    if _encoded_size(alert) > webpush.MAX_PLAINTEXT_BYTES:
        raise AlertError(_("Le titre de l’alerte est trop long pour une notification."))
    if original is None:  # an Alert, or an Update of an alert Eclor never saw
        if territory_id:
            alert.territory_id = territory_id
        session.add(alert)
        session.flush()
        alert.thread_id = alert.id
        queue_fanout(session, alert)
        return alert
    return attach_update(session, original, alert, original.thread_id or saved_id(original))


def _cancel_without_info(
    parsed: cap.CapAlert, original: Alert, document: bytes, user_id: int | None
) -> Alert:
    """A Cancel with no ``info`` block: the alert it ends, said to be over, to the same people."""
    return Alert(
        identifier=parsed.identifier,
        sender=parsed.sender,
        sent_at=parsed.sent,
        status=parsed.status,
        msg_type="Cancel",
        scope=parsed.scope,
        cap_references=_references_text(parsed),
        note=(parsed.note or "")[:500] or None,
        category=original.category,
        event=original.event,
        cap_urgency=original.cap_urgency,
        severity=original.severity,
        certainty=original.certainty,
        expires_at=original.expires_at,
        sender_name=original.sender_name,
        title=original.title,
        body=(parsed.note or "").strip()[:CAP_BODY_MAX] or _("Cette alerte est terminée."),
        link=original.link,
        area_desc=original.area_desc,
        topic=original.topic,
        communes=original.communes,
        push_urgency="normal",
        ttl_s=original.ttl_s,
        state="cancelled",
        source="cap",
        cap_xml=cap_read.document_text(document),
        cap_document=document,
        created_by=user_id,
    )


def _encoded_size(alert: Alert) -> int:
    import json

    payload = alert_payload(alert)
    payload["url"] = "/alerts/0000000"
    payload["tag"] = "alert-0000000"
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def to_cap(session: Session, alert: Alert, base_url: str) -> bytes:
    """The alert as a CAP 1.2 document: an imported one as received, Eclor's own as written here."""
    if alert.cap_document is not None:
        return alert.cap_document  # byte for byte, in the encoding it declares
    if alert.cap_xml:  # imported before messages were kept as bytes
        return alert.cap_xml.encode("utf-8")
    base = base_url.rstrip("/")
    rows = {c.insee: c for c in session.scalars(select(Commune)).all()}
    codes = unpack(alert.communes) or sorted(rows)
    references: list[cap.CapReference] = []
    if alert.cap_references:
        for token in alert.cap_references.split():
            sender, identifier, sent = token.split(",")
            references.append(cap.CapReference(sender, identifier, cap.parse_time(sent)))
    link = alert.link or f"/alerts/{alert.id}"
    clean = xmltext.clean  # what people typed may hold characters XML cannot carry
    sent_at = alert.sent_at.replace(microsecond=0)
    # Every info carries an end and a description (the common profile's rules): without an end
    # the alert's push validity applies (the CLI's and the form's default, 24 h).
    expires = alert.expires_at or sent_at + timedelta(seconds=alert.ttl_s or cap_areas.DEFAULT_TTL)
    info = cap.CapInfo(
        language="fr-FR",
        category=[cap.one_of(alert.category, cap.CATEGORIES, "category")],
        event=clean(alert.event) or clean(alert.title),
        urgency=cap.one_of(alert.cap_urgency, cap.URGENCIES, "urgency"),
        severity=cap.one_of(alert.severity, cap.SEVERITIES, "severity"),
        certainty=cap.one_of(alert.certainty, cap.CERTAINTIES, "certainty"),
        onset=alert.onset_at.replace(microsecond=0) if alert.onset_at else None,
        expires=expires.replace(microsecond=0),
        senderName=clean(alert.sender_name) or None,
        headline=clean(alert.title),
        description=clean(alert.body) or clean(alert.title),
        instruction=clean(alert.instruction) or None,
        web=link if link.startswith("https://") else base + link,
        areas=[_commune_area(code, rows.get(code)) for code in codes]
        or [cap.CapArea(areaDesc=clean(alert.area_desc) or _("Tout le territoire"))],
    )
    document = cap.CapAlert(
        identifier=alert.identifier,
        sender=alert.sender,
        sent=sent_at,
        status=cap.one_of(alert.status, cap.STATUSES, "status"),
        msgType=cap.one_of(alert.msg_type, cap.MSG_TYPES, "msgType"),
        scope=cap.one_of(alert.scope, cap.SCOPES, "scope"),
        note=clean(alert.note) if alert.note else alert.note,
        references=references,
        infos=[info],
    )
    return cap_write.to_xml(document)


def _commune_area(code: str, commune: Commune | None) -> cap.CapArea:
    """One commune as a CAP area: its name, its outline (when the territory has it), its codes."""
    if commune is None:
        return cap.CapArea(areaDesc=code, geocodes=[cap.CapValue("INSEE", code)])
    polygons: list[list[cap.Point]] = []
    if commune.outline:
        ring = [
            (float(lat), float(lon))
            for lat, lon in (point.split(",") for point in commune.outline.split())
        ]
        if len(ring) >= 4 and ring[0] == ring[-1]:
            polygons.append(ring)
    return cap.CapArea(
        areaDesc=xmltext.clean(commune.name),
        polygons=polygons,
        geocodes=[cap.CapValue("INSEE", code), cap.CapValue("POSTCODE", commune.postcode)],
    )
