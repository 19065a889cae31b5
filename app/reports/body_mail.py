"""The e-mail a body gets when a report reaches it (at intake, on a change of category or place, or
handed over by staff): what was reported, where, and the staff page to deal with it.

Queued in the transaction that sends the report there, written by the worker (which knows the
install's address), in the territory's name; a body without a contact address gets none, and a
report handed elsewhere before the worker runs is not sent to its former body.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session

from app.db import read_session, write_session
from app.i18n import gettext as _
from app.jobs import JobContext, enqueue
from app.mail import send_mail
from app.models.reports import Report
from app.models.territory import Body, Commune, Territory
from app.reports import categories as cats
from app.reports.catalogue import VOLUMES, number

KIND = "reports.body_mail"


def queue(session: Session, report: Report, body_id: int | None, contact_email: str) -> None:
    """Tell the body the report now goes to (in the caller's transaction), if it has an address."""
    if body_id is None or not contact_email or report.id is None:
        return
    enqueue(
        session,
        KIND,
        {"report_id": report.id, "body_id": body_id, "at": report.updated_at.isoformat()},
        dedupe_key=f"{KIND}:{report.id}:{body_id}:{report.updated_at.isoformat()}",
        max_attempts=5,
    )


def _site(territory: Territory, base_url: str) -> str:
    """The territory's own address (its first host, with the install's scheme), else ``base_url``."""
    if territory.hosts:
        scheme = urlsplit(base_url).scheme or "https"
        return f"{scheme}://{territory.hosts[0]}"
    return base_url.rstrip("/")


def send(ctx: JobContext, payload: dict[str, Any]) -> None:
    with read_session(ctx.engine) as session:
        report = session.get(Report, payload.get("report_id"))
        body = session.get(Body, payload.get("body_id"))
        if report is None or body is None or report.body_id != body.id or not body.contact_email:
            return  # gone, or handed elsewhere since: nothing to say
        territory = session.get(Territory, report.territory_id)
        commune = session.get(Commune, report.commune_insee) if report.commune_insee else None
        if territory is None:
            return
        site = _site(territory, ctx.settings.base_url)
        category = cats.of_territory(session, report.territory_id).name(report.category)
        place = commune.name if commune else ""
        lines = [
            _("Un signalement vous est transmis : %(n)s, %(c)s à %(p)s.")
            % {"n": number(report), "c": category, "p": place},
            "",
            report.description or _("(pas de description)"),
            "",
            _("Lieu : %(a)s %(lat).5f, %(lon).5f")
            % {"a": report.address, "lat": report.lat, "lon": report.lon},
        ]
        if report.volume:
            lines.append(_("Volume : %(v)s") % {"v": _(VOLUMES.get(report.volume, report.volume))})
        lines += ["", _("À traiter : %(u)s") % {"u": f"{site}/staff/reports/{report.id}"}]
        subject = _("Signalement %(n)s transmis à %(b)s : %(c)s à %(p)s") % {
            "n": number(report),
            "b": body.name,
            "c": category,
            "p": place,
        }
        to, sender, territory_id = body.contact_email, territory.mail_sender, territory.id
        key = f"mail:{KIND}:{report.id}:{body.id}:{payload.get('at', '')}"
    with write_session(ctx.engine) as session:
        send_mail(
            session,
            to,
            subject,
            "\n".join(lines),
            sender=sender,
            dedupe_key=key,
            territory_id=territory_id,
        )
