"""NGSI-LD subscriptions: partners with an API key (tested in test_ngsi_ld_subscriptions) or staff."""

from __future__ import annotations

from typing import Any

from app.db import write_session
from app.models.ngsi import NgsiSubscription
from tests.access import ROLES, AccessContext, Row

PATH = "/ngsi-ld/v1/subscriptions"
SUB_ID = "urn:ngsi-ld:Subscription:access"
BODY = {
    "type": "Subscription",
    "entities": [{"type": "Streetlight"}],
    "notification": {"endpoint": {"uri": "https://partner.example.org/notify"}},
}


def staff_only(status: int) -> dict[str, int | tuple[int, ...]]:
    return {role: (status if role in ("staff", "admin") else 401) for role in ROLES}


def subscription(ctx: AccessContext) -> dict[str, Any]:
    with write_session(ctx.engine) as session:
        if session.get(NgsiSubscription, SUB_ID) is None:
            session.add(
                NgsiSubscription(
                    id=SUB_ID,
                    spec='{"entities": [{"type": "Streetlight"}], "notification": {"endpoint":'
                    ' {"uri": "https://partner.example.org/notify", "accept": "application/json",'
                    ' "receiverInfo": []}, "format": "normalized"}}',
                )
            )
    return {"sub_id": SUB_ID}


ROWS = [
    Row("GET", PATH, staff_only(200), setup=subscription),
    Row("POST", PATH, staff_only(201), json=BODY),
    Row(
        "GET",
        f"{PATH}/{SUB_ID}",
        staff_only(200),
        setup=subscription,
        route=f"{PATH}/{{sub_id:str}}",
    ),
    Row(
        "PATCH",
        f"{PATH}/{SUB_ID}",
        staff_only(204),
        setup=subscription,
        json={"isActive": False},
        route=f"{PATH}/{{sub_id:str}}",
    ),
    Row(
        "DELETE",
        f"{PATH}/{SUB_ID}",
        {role: ((204, 404) if role in ("staff", "admin") else 401) for role in ROLES},
        setup=subscription,
        json={},  # so the row sends the CSRF header, as a staff page's script would
        route=f"{PATH}/{{sub_id:str}}",
        notes="staff delete it (the admin after the staff member finds it gone: 404)",
    ),
]
