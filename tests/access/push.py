"""Access rules of the alerts and Web Push routes."""

from __future__ import annotations

from typing import Any

from tests.access import AccessContext, Row, roles_only, same_for_all, signed_in_only

STAFF_ROLES = ("staff", "admin")


def an_alert(ctx: AccessContext) -> dict[str, Any]:
    from app.alerts import publish as alerts
    from app.db import write_session

    with write_session(ctx.engine) as session:
        data = alerts.clean_input(
            session,
            title="Frontière saturée",
            body="Bouchon vers Esch.",
            topic="traffic",
            communes=["57038"],
        )
        alert = alerts.publish(session, data, source="staff", sender="eclor@test")
        return {"alert_id": alert.id}


PREVIEW = {
    "title": "Déchèterie calme",
    "body": "",
    "topic": "waste_centre",
    "urgency": "low",
    "do": "preview",
}
UNKNOWN_ENDPOINT = {"endpoint": "https://fcm.googleapis.com/fcm/send/unknown"}

ROWS = [
    Row("GET", "/alerts", same_for_all(200)),
    Row("GET", "/alerts/{alert_id}", same_for_all(200), setup=an_alert, route="/alerts/{ref:str}"),
    Row(
        "GET",
        "/alerts/{alert_id}.cap",
        same_for_all(200),
        setup=an_alert,
        route="/alerts/{ref:str}",
    ),
    Row("GET", "/staff/alerts", roles_only(STAFF_ROLES)),
    Row("GET", "/staff/alerts/new", roles_only(STAFF_ROLES)),
    Row("POST", "/staff/alerts/new", roles_only(STAFF_ROLES, anonymous=401), data=PREVIEW),
    Row(
        "GET",
        "/staff/alerts/{alert_id}",
        roles_only(STAFF_ROLES),
        setup=an_alert,
        route="/staff/alerts/{alert_id:int}",
    ),
    Row(
        "GET",
        "/staff/alerts/{alert_id}/update",
        roles_only(STAFF_ROLES),
        setup=an_alert,
        route="/staff/alerts/{alert_id:int}/update",
    ),
    Row(
        "POST",
        "/staff/alerts/{alert_id}/update",
        roles_only(STAFF_ROLES, anonymous=401),
        setup=an_alert,
        data=PREVIEW,
        route="/staff/alerts/{alert_id:int}/update",
    ),
    Row(
        "POST",
        "/staff/alerts/{alert_id}/cancel",
        roles_only(STAFF_ROLES, (303, 400), anonymous=401),
        setup=an_alert,
        data={"note": "Fin."},
        route="/staff/alerts/{alert_id:int}/cancel",
        notes="303 the first time, 400 once the alert is already cancelled",
    ),
    Row("GET", "/staff/alerts/import", roles_only(STAFF_ROLES)),
    Row(
        "POST",
        "/staff/alerts/import",
        roles_only(STAFF_ROLES, 400, anonymous=401),
        data={"xml": ""},
        notes="an empty document is refused",
    ),
    Row(
        "POST",
        "/push/subscriptions",
        signed_in_only(400, anonymous=401),
        json={"topics": ["weather"]},
        notes="no endpoint: refused; a valid subscription is tested in test_push_subscriptions",
    ),
    Row("DELETE", "/push/subscriptions", signed_in_only(404, anonymous=401), json=UNKNOWN_ENDPOINT),
    Row(
        "POST",
        "/push/subscriptions/delete",
        signed_in_only(404, anonymous=401),
        json=UNKNOWN_ENDPOINT,
    ),
    Row("GET", "/me/push", signed_in_only(200)),
    Row(
        "POST",
        "/me/push",
        signed_in_only(303, anonymous=401),
        data={"topics": "weather"},
        notes="notification choices belong to the account: saved even with no device subscribed",
    ),
]
