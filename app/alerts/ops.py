"""Alerts in the operations centre: active alerts with their area, their side panel, the active alerts
per commune, and the "publish an alert for this commune" action offered on every panel with a commune."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from app.alerts.topics import ALERT_TOPICS, TOPICS, unpack
from app.i18n import gettext as _
from app.models.push import Alert
from app.models.territory import Commune
from app.ops.contracts import (
    Action,
    Field_,
    Freshness,
    Kpi,
    Layer,
    Panel,
    Stamp,
    area,
    circle,
    mine,
)
from app.i18n import NC_
from app.territories import bound

N_ = str
COMMUNE_RADIUS_M = 2500
STATES = {"active": NC_("alert state", "En cours")}


def _active(session: Session, now: dt.datetime) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert)
            .where(
                col(Alert.state) == "active",
                col(Alert.msg_type) != "Cancel",
                or_(col(Alert.expires_at).is_(None), col(Alert.expires_at) > now),
                mine(session, col(Alert.territory_id)),
            )
            .order_by(col(Alert.id))
        ).all()
    )


def alerts_layer(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    communes = {
        c.insee: c
        for c in session.scalars(
            select(Commune).where(mine(session, col(Commune.territory_id)))
        ).all()
    }
    out = []
    for alert in _active(session, now):
        codes = unpack(alert.communes) or list(communes)
        rings = [
            circle(communes[c].lon, communes[c].lat, COMMUNE_RADIUS_M)
            for c in codes
            if c in communes
        ]
        if rings:
            out.append(
                area(
                    str(alert.id),
                    rings,
                    kind="alert",
                    state="active",
                    label=alert.title,
                    url=f"/staff/alerts/{alert.id}",
                    topic=alert.topic,
                    communes=codes,
                )
            )
    return out


def alert_panel(session: Session, feature_id: str, now: dt.datetime) -> Panel | None:
    alert = session.get(Alert, int(feature_id)) if feature_id.isdigit() else None
    territory = bound(session)
    if alert is None or (territory is not None and alert.territory_id != territory.id):
        return None  # (another territory's alert is not found on this host)
    facts = [
        (_("Sujet"), _(TOPICS.get(alert.topic, alert.topic))),
        (_("Zone"), alert.area_desc or "—"),
        (_("Texte"), alert.body[:300] or "—"),
        (_("Envoyée le"), alert.sent_at.strftime("%d/%m/%Y %H:%M")),
    ]
    codes = unpack(alert.communes)
    return Panel(
        title=alert.title,
        state=alert.state,
        state_label=_(STATES.get(alert.state, alert.state)),
        facts=facts,
        link=f"/staff/alerts/{alert.id}",
        commune=codes[0] if len(codes) == 1 else None,
    )


def alert_for_commune(insee: str) -> Action:
    topics = [(key, TOPICS[key]) for key in ALERT_TOPICS]
    return Action(
        N_("Publier une alerte pour cette commune"),
        "/staff/alerts/new",
        [
            Field_("title", N_("Titre"), "text"),
            Field_("body", N_("Texte"), "textarea"),
            Field_("topic", N_("Sujet"), "select", "general", options=topics),
            Field_("communes", "", "hidden", insee),
            Field_("do", "", "hidden", "send"),
        ],
        N_("Alerte publiée."),
    )


def active_alerts_kpi(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Alerts in force per commune of the session's territory (one for every commune: each of them)."""
    everyone = list(
        session.scalars(
            select(col(Commune.insee)).where(mine(session, col(Commune.territory_id)))
        ).all()
    )
    out: dict[str, Any] = {}
    for alert in _active(session, now):
        for insee in unpack(alert.communes) or everyone:
            out[insee] = out.get(insee, 0) + 1
    return out


# Publishing an alert publishes an "alerts" event; a cancellation changes the count.
alerts_stamp = Stamp(
    (select(func.count(), func.max(col(Alert.id))).where(col(Alert.state) == "active"),)
)


def alerts_expire(session: Session, now: dt.datetime) -> dt.datetime | None:
    """When the next active alert runs out."""
    moment = session.scalar(
        select(func.min(col(Alert.expires_at))).where(
            col(Alert.state) == "active", col(Alert.expires_at) > now
        )
    )
    return moment.replace(tzinfo=dt.UTC) if moment and moment.tzinfo is None else moment


OPS_LAYERS = [
    Layer("alerts", N_("Alertes en cours"), 40, alerts_layer, alert_panel, {"areas": True}, STATES)
]
OPS_KPIS = [
    Kpi(
        "alerts_active",
        N_("Alertes en cours"),
        "",
        50,
        active_alerts_kpi,
        Freshness(("alerts",), alerts_stamp, alerts_expire),
    )
]
OPS_COMMUNE_ACTIONS = [alert_for_commune]
