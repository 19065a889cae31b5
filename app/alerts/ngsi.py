"""The NGSI-LD twin of the alerts' open data: each public CAP alert as a Smart Data Models ``Alert``.

Built from what the "alertes" dataset publishes (``app.alerts.opendata``):
public, actual messages only; CAP's category and severity mapped onto the
Smart Data Models enumerations (dataModel.Alert: ``category`` traffic,
naturalDisaster, weather, environment, health, security, agriculture;
``severity`` informational, low, medium, high, critical), the headline as
``description``, the area as ``areaServed``, the CAP details in ``data``.
Served by ``/ngsi-ld/v1/entities`` through ``app.ngsi.EntityType``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col

from app.alerts.opendata import public_alerts
from app.models.push import Alert
from app import ngsi
from app.ngsi import SDM, EntityType, compact, datetime_prop, prop, urn

TYPE = "Alert"
_MODEL = f"{SDM}dataModel.Alert/"
CATEGORY = {  # CAP 1.2 category -> Smart Data Models Alert category (no match: left out)
    "Geo": "naturalDisaster",
    "Met": "weather",
    "Safety": "security",
    "Security": "security",
    "Rescue": "security",
    "Fire": "security",
    "CBRNE": "security",
    "Health": "health",
    "Env": "environment",
    "Transport": "traffic",
}
SEVERITY = {
    "Extreme": "critical",
    "Severe": "high",
    "Moderate": "medium",
    "Minor": "low",
    "Unknown": "informational",
}


def _select(ids: list[str] | None, territory_id: int | None = None) -> Any:
    """The public alerts (of one territory when given: the NGSI-LD request's host's)."""
    query = public_alerts()
    if territory_id is not None:
        query = query.where(col(Alert.territory_id) == territory_id)
    if ids is not None:
        query = query.where(col(Alert.id).in_([int(i) for i in ids if i.isdigit()]))
    return query


def _count(session: Session, ids: list[str] | None) -> int:
    return int(
        session.scalar(_select(ids, ngsi.territory_of(session)).with_only_columns(func.count()))
        or 0
    )


def alert_entity(alert: Alert) -> dict[str, Any]:
    communes = [c for c in alert.communes.split(",") if c]
    return compact(
        {
            "id": urn(TYPE, str(alert.id)),
            "type": TYPE,
            "category": prop(CATEGORY[alert.category]) if alert.category in CATEGORY else None,
            "severity": prop(SEVERITY.get(alert.severity, "informational")),
            "description": prop(alert.title),
            "dateIssued": datetime_prop(alert.sent_at),
            "validFrom": datetime_prop(alert.onset_at),
            "validTo": datetime_prop(alert.expires_at),
            "areaServed": prop(alert.area_desc) if alert.area_desc else None,
            "alertState": prop(alert.state),
            "data": prop(
                {
                    "capIdentifier": alert.identifier,
                    "msgType": alert.msg_type,
                    "capCategory": alert.category,
                    "event": alert.event,
                    "urgency": alert.cap_urgency,
                    "severity": alert.severity,
                    "certainty": alert.certainty,
                    "communes": communes,
                }
            ),
        }
    )


def _page(
    session: Session, ids: list[str] | None, offset: int, limit: int
) -> Iterator[dict[str, Any]]:
    position, remaining = offset, limit
    while remaining > 0:
        size = min(1000, remaining)
        batch = session.scalars(
            _select(ids, ngsi.territory_of(session))
            .order_by(col(Alert.id))
            .offset(position)
            .limit(size)
        ).all()
        yield from (alert_entity(alert) for alert in batch)
        if len(batch) < size:
            return
        position += size
        remaining -= size


ALERTS = EntityType(
    TYPE,
    _count,
    _page,
    terms={
        TYPE: f"{_MODEL}{TYPE}",
        **{
            name: f"{_MODEL}{name}"
            for name in ("category", "severity", "dateIssued", "validFrom", "validTo", "data")
        },
        "areaServed": f"{SDM}areaServed",
        "description": "http://purl.org/dc/terms/description",
    },
)
NGSI_TYPES = (ALERTS,)
