"""Access rules of the lighting staff pages, the residents' sensor pages and the NGSI-LD read API."""

from __future__ import annotations

import json
from typing import Any

from app.db import write_session
from app.lighting.programs import Program
from app.models.lighting import LightAlarm, LightCalendar, LightProgram
from app.models.sensors import Sensor
from tests.access import AccessContext, Row, roles_only, same_for_all, signed_in_only
from tests.lighting_helpers import seed_lights

STAFF = ("staff", "admin")


def fleet(ctx: AccessContext) -> dict[str, Any]:
    lights = seed_lights(ctx.engine, 3)
    with write_session(ctx.engine) as session:
        program = LightProgram(
            name="Nuit",
            definition=json.dumps(
                Program.from_pairs([("dusk", 100), ("dawn", 0)], name="Nuit").to_dict()
            ),
        )
        session.add(program)
        session.flush()
        calendar = LightCalendar(
            name="Année", definition=json.dumps({"default": "Nuit", "rules": []})
        )
        alarm = LightAlarm(device_id=lights[0], kind="defectiveLamp")
        session.add_all([calendar, alarm])
        session.flush()
        return {
            "group_id": "G1",
            "light_id": lights[0],
            "program_id": program.id,
            "calendar_id": calendar.id,
            "alarm_id": alarm.id,
        }


def waste_centre(ctx: AccessContext) -> dict[str, Any]:
    with write_session(ctx.engine) as session:
        session.add(
            Sensor(id="WC-AUD-01", kind="waste_centre", name="Déchèterie", lat=49.46, lon=5.96)
        )
    return {}


def counters(ctx: AccessContext) -> dict[str, Any]:
    with write_session(ctx.engine) as session:
        session.add(
            Sensor(id="CPT-AUD-01", kind="counter", name="Rue du Centre", lat=49.47, lon=5.95)
        )
        session.add(
            Sensor(
                id="PV-AUD-01",
                kind="solar",
                name="Toiture de la mairie",
                lat=49.47,
                lon=5.95,
                meta=json.dumps({"peak_kw": 9, "injection": "none"}),
            )
        )
        session.add(
            Sensor(
                id="GAZ-AUD-01",
                kind="energy_meter",
                name="Mairie - gaz",
                meta=json.dumps({"building": "Mairie", "medium": "gas", "area_m2": 800}),
            )
        )
    return {}


def staff_only(status: int | tuple[int, ...] = 200) -> dict[str, int | tuple[int, ...]]:
    return roles_only(STAFF, status)


def staff_post(status: int | tuple[int, ...] = 303) -> dict[str, int | tuple[int, ...]]:
    return roles_only(STAFF, status, anonymous=(303, 401, 403))


G = "/staff/lighting/groups/{group_id}"
L = "/staff/lighting/lights/{light_id}"

ROWS = [
    Row("GET", "/staff/lighting", staff_only(), setup=fleet),
    Row("GET", G, staff_only(), setup=fleet, route="/staff/lighting/groups/{group_id:str}"),
    Row(
        "POST",
        G + "/override",
        staff_post(),
        setup=fleet,
        data={"level": "40", "minutes": "30"},
        route="/staff/lighting/groups/{group_id:str}/override",
    ),
    Row(
        "POST",
        G + "/resume",
        staff_post(),
        setup=fleet,
        route="/staff/lighting/groups/{group_id:str}/resume",
    ),
    Row(
        "POST",
        G + "/program",
        staff_post(),
        setup=fleet,
        data={"program_id": ""},
        route="/staff/lighting/groups/{group_id:str}/program",
    ),
    Row("GET", L, staff_only(), setup=fleet, route="/staff/lighting/lights/{light_id:str}"),
    Row(
        "POST",
        L + "/override",
        staff_post(),
        setup=fleet,
        data={"level": "0"},
        route="/staff/lighting/lights/{light_id:str}/override",
    ),
    Row(
        "POST",
        L + "/resume",
        staff_post(),
        setup=fleet,
        route="/staff/lighting/lights/{light_id:str}/resume",
    ),
    Row("GET", "/staff/lighting/programs", staff_only(), setup=fleet),
    Row("GET", "/staff/lighting/programs/new", staff_only()),
    Row(
        "POST",
        "/staff/lighting/programs/new",
        staff_post((303, 400)),
        data={"name": "Essai", "steps": "dusk 100\ndawn 0"},
        notes="the second staff role gets 400: name taken",
    ),
    Row(
        "GET",
        "/staff/lighting/programs/{program_id}",
        staff_only(),
        setup=fleet,
        route="/staff/lighting/programs/{program_id:int}",
    ),
    Row(
        "POST",
        "/staff/lighting/programs/{program_id}",
        staff_post(),
        setup=fleet,
        data={"name": "Nuit", "steps": "dusk 90\ndawn 0"},
        route="/staff/lighting/programs/{program_id:int}",
    ),
    Row(
        "POST",
        "/staff/lighting/programs/{program_id}/delete",
        staff_post(409),
        setup=fleet,
        route="/staff/lighting/programs/{program_id:int}/delete",
        notes="the calendar uses it: kept, 409",
    ),
    Row("GET", "/staff/lighting/calendars/new", staff_only(), setup=fleet),
    Row(
        "POST",
        "/staff/lighting/calendars/new",
        staff_post((303, 400)),
        setup=fleet,
        data={"name": "Fêtes", "default": "1", "rule_count": "0"},  # program 1: "Nuit" (fleet)
    ),
    Row(
        "GET",
        "/staff/lighting/calendars/{calendar_id}",
        staff_only(),
        setup=fleet,
        route="/staff/lighting/calendars/{calendar_id:int}",
    ),
    Row(
        "POST",
        "/staff/lighting/calendars/{calendar_id}",
        staff_post(),
        setup=fleet,
        data={"name": "Année", "default": "1", "rule_count": "0"},
        route="/staff/lighting/calendars/{calendar_id:int}",
    ),
    Row(
        "POST",
        "/staff/lighting/programs/{program_id}/archive",
        staff_post(),
        setup=fleet,
        route="/staff/lighting/programs/{program_id:int}/archive",
    ),
    Row(
        "POST",
        "/staff/lighting/programs/{program_id}/restore",
        staff_post(),
        setup=fleet,
        route="/staff/lighting/programs/{program_id:int}/restore",
    ),
    Row("GET", "/staff/lighting/alarms", staff_only(), setup=fleet),
    Row(
        "POST",
        "/staff/lighting/alarms/{alarm_id}/ack",
        staff_post(),
        setup=fleet,
        route="/staff/lighting/alarms/{alarm_id:int}/ack",
    ),
    Row("GET", "/staff/lighting/energy", staff_only(), setup=fleet),
    Row("GET", "/staff/lighting/import", staff_only()),
    Row(
        "POST",
        "/staff/lighting/import",
        staff_post(400),
        data={},
        notes="without a file: a French message, nothing imported",
    ),
    Row("GET", "/waste-centre", same_for_all(200), setup=waste_centre),
    Row(
        "POST",
        "/waste-centre/watch",
        signed_in_only(303, anonymous=(303, 401, 403)),
        setup=waste_centre,
        data={"threshold": "10"},
    ),
    Row("GET", "/traffic", same_for_all(200)),
    Row("GET", "/counting", same_for_all(200), setup=counters),
    Row("GET", "/staff/buildings", staff_only(200), setup=counters),
    Row(
        "POST",
        "/staff/buildings/import",
        staff_post(400),
        setup=counters,
        data={},
        notes="without a file: a French message, nothing imported",
    ),
    Row("GET", "/staff/solar", staff_only(200), setup=counters),
    Row(
        "POST",
        "/staff/solar/target",
        staff_post(),
        data={
            "year": "2026",
            "production_mwh": "120",
            "purchase_eur_kwh": "0,2",
            "sale_eur_kwh": "0,04",
        },
    ),
    Row(
        "GET",
        "/ngsi-ld/v1/entities?type=Streetlight",
        same_for_all(200),
        setup=fleet,
        route="/ngsi-ld/v1/entities",
    ),
    Row(
        "GET",
        "/ngsi-ld/v1/entities/urn:ngsi-ld:Streetlight:SL-T-0001",
        same_for_all(200),
        setup=fleet,
        route="/ngsi-ld/v1/entities/{entity_id:str}",
    ),
    Row("GET", "/ngsi-ld/v1/context.jsonld", same_for_all(200)),
    Row("GET", "/ngsi-ld/v1/types", same_for_all(200), setup=fleet),
    Row(
        "GET",
        "/ngsi-ld/v1/types/Streetlight",
        same_for_all(200),
        setup=fleet,
        route="/ngsi-ld/v1/types/{name:str}",
    ),
    Row("GET", "/ngsi-ld/v1/attributes", same_for_all(200), setup=fleet),
    Row(
        "GET",
        "/ngsi-ld/v1/attributes/status",
        same_for_all(200),
        setup=fleet,
        route="/ngsi-ld/v1/attributes/{name:str}",
    ),
]

# The TALQ CMS API: a gateway's key (eclor talq gateway add) and address only; a signed-in person's
# session is no key.
_TALQ = "?clientAddress=7d0b1f8e-3f4c-4a55-9a43-2f1d8c1e9b11&talqRequestId=8d0b1f8e-3f4c-4a55-9a43-2f1d8c1e9b11"
ROWS += [
    Row(
        "POST", "/api/talq/services" + _TALQ, same_for_all(401), json=[], route="/api/talq/services"
    ),
    Row("POST", "/api/talq/devices" + _TALQ, same_for_all(401), json=[], route="/api/talq/devices"),
    Row("PUT", "/api/talq/devices" + _TALQ, same_for_all(401), json=[], route="/api/talq/devices"),
    Row(
        "PATCH", "/api/talq/devices" + _TALQ, same_for_all(401), json=[], route="/api/talq/devices"
    ),
    Row(
        "PATCH",
        "/api/talq/devices/7d0b1f8e-3f4c-4a55-9a43-2f1d8c1e9b11" + _TALQ,
        same_for_all(401),
        json={},
        route="/api/talq/devices/{device_address:str}",
    ),
    Row(
        "POST",
        "/api/talq/log-reports" + _TALQ,
        same_for_all(401),
        json={},
        route="/api/talq/log-reports",
    ),
    Row("GET", "/api/talq/groups" + _TALQ, same_for_all(401), route="/api/talq/groups"),
    Row(
        "GET",
        "/api/talq/groups/7d0b1f8e-3f4c-4a55-9a43-2f1d8c1e9b11" + _TALQ,
        same_for_all(401),
        route="/api/talq/groups/{group_address:str}",
    ),
]
