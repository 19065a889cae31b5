"""Access rules of the renovation guide: the questionnaire, results and appointment requests are
open to everyone, without an account; the local aids and the follow-up of requests are staff's."""

from __future__ import annotations

from typing import Any

from tests.access import AccessContext, Row, roles_only, same_for_all

STAFF_ROLES = ("staff", "admin")
STAFF_POST = roles_only(STAFF_ROLES, 303, anonymous=401)

ANSWERS = {
    "commune": "57038",
    "home_type": "maison",
    "built_year": "1930",
    "heating": "fioul",
    "persons": "2",
    "bracket": "tres_modeste",
    "works": "pac_air_eau",
}


def rules_loaded(ctx: AccessContext) -> dict[str, Any]:
    from app.db import write_session
    from app.renovation import rules

    with write_session(ctx.engine) as session:
        rules.load_file(session, rules.NATIONAL_FILE)
    return {}


def a_local_aid(ctx: AccessContext) -> dict[str, Any]:
    from app.db import write_session
    from app.models.renovation import AidRule

    rules_loaded(ctx)
    with write_session(ctx.engine) as session:
        rule = AidRule(
            key="local-x",
            year=2026,
            scope="local",
            program="local",
            title="Prime communale",
            amount=500,
            source_url="https://example.org/deliberation",
        )
        session.add(rule)
        session.flush()
        return {"rule_id": rule.id}


def an_appointment(ctx: AccessContext) -> dict[str, Any]:
    from app.db import utcnow, write_session
    from app.models.renovation import Appointment

    with write_session(ctx.engine) as session:
        row = Appointment(name="Jeanne Martin", phone="0382000000", consent_at=utcnow())
        session.add(row)
        session.flush()
        return {"appointment_id": row.id}


ROWS = [
    Row("GET", "/renovation", same_for_all(200), setup=rules_loaded),
    Row("POST", "/renovation/questions", same_for_all(200), setup=rules_loaded, data=ANSWERS),
    Row(
        "POST",
        "/renovation/appointments",
        same_for_all(303),
        setup=rules_loaded,
        data={
            **ANSWERS,
            "name": "Jeanne Martin",
            "phone": "03 82 00 00 00",
            "slots": "morning",
            "consent": "yes",
        },
    ),
    Row("GET", "/renovation/appointments/sent", same_for_all(200)),
    Row("GET", "/renovation/rules", same_for_all(200), setup=rules_loaded),
    Row("GET", "/renovation/staff", roles_only(STAFF_ROLES), setup=rules_loaded),
    Row(
        "POST",
        "/renovation/staff/aids",
        STAFF_POST,
        setup=rules_loaded,
        data={
            "title": "Prime façades Audun",
            "calc": "fixed",
            "amount": "800",
            "source_url": "https://example.org/deliberation",
        },
    ),
    Row(
        "POST",
        "/renovation/staff/aids/{rule_id}/active",
        STAFF_POST,
        setup=a_local_aid,
        data={"active": "no"},
        route="/renovation/staff/aids/{rule_id:int}/active",
    ),
    Row("GET", "/renovation/staff/appointments", roles_only(STAFF_ROLES)),
    Row(
        "POST",
        "/renovation/staff/appointments/{appointment_id}/status",
        STAFF_POST,
        setup=an_appointment,
        data={"status": "called", "note": "Rappel jeudi"},
        route="/renovation/staff/appointments/{appointment_id:int}/status",
    ),
]
