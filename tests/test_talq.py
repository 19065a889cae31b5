"""The relay's TALQ backend and Eclor's TALQ CMS API, against a test gateway written from the TALQ
2.7.1 OpenAPI files alone (tests/talq_gateway.py): a group override reaches the gateway as one
override command to the group it holds, over https, and the gateway's feedback ends the commands
``applied``; a gateway that never answers leaves them ``expired``; programs and calendars exported
for the gateway validate against the data model."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import uuid
from typing import Any

from sqlalchemy import select

from app.cli import build_parser
from app.db import read_session, utcnow, write_session
from app.lighting import control, talq_cli
from app.lighting.relay import talq_relay
from app.lighting.talq_backend import TalqLink
from app.models.lighting import (
    LightAlarm,
    LightCalendar,
    LightGroup,
    LightOverride,
    LightProgram,
    LightReading,
    Streetlight,
)
from app.models.lighting_talq import TalqDevice, TalqGateway
from tests.lighting_helpers import FAST, eventually, seed_lights, states
from tests.live_server import free_port, live
from tests.mqtt_fixtures import run_async
from tests.talq_gateway import (
    CMS_FILE,
    Gateway,
    check_request,
    check_response,
    named_schema_errors,
    openapi,
    schema_errors,
)
from tests.tls_helpers import self_signed

CMS = openapi(CMS_FILE, "/api/talq")


def cli(settings: Any, *argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(["talq", *argv])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = talq_cli.run(args, settings)
    return code, out.getvalue(), err.getvalue()


def add_gateway(
    settings: Any, engine: Any, gateway: Gateway, name: str = "Passerelle Audun"
) -> None:
    code, key, err = cli(settings, "gateway", "add", name)
    assert code == 0 and key.startswith("eclortq_"), err
    gateway.cms_key = key.strip()
    with read_session(engine) as session:
        row = session.scalars(select(TalqGateway).where(TalqGateway.name == name)).one()
        assert row.key_hash != gateway.cms_key and gateway.cms_key not in row.key_hash
        gateway.address = row.address
    assert gateway.address in err


def announce(gateway: Gateway, lights: list[str]) -> dict[str, str]:
    """The gateway's bootstrap: its services, then its devices (named like Eclor's lights)."""
    assert gateway.to_cms("POST", "/services", [{"name": "ControlService"}]).status == 201
    addresses = {light: str(uuid.uuid4()) for light in lights}
    devices = [
        {
            "address": address,
            "name": light,
            "class": "Luminaire",
            "functions": [
                {"id": "lampActuator", "type": "LampActuatorFunction"},
                {"id": "lampMonitor", "type": "LampMonitorFunction"},
            ],
        }
        for light, address in addresses.items()
    ]
    made = gateway.to_cms("POST", "/devices", devices)
    assert made.status == 201, made.answer
    assert {d["address"] for d in json.loads(made.answer)} == set(addresses.values())
    return addresses


def check_cms_exchanges(gateway: Gateway) -> None:
    """Every request of the gateway and every answer of Eclor, against the CMS file."""
    assert gateway.cms_exchanges
    for x in gateway.cms_exchanges:
        assert (
            check_request(CMS, x.method, x.path, x.query, x.headers, x.body or None, "/api/talq")
            == []
        )
        check_response(
            CMS,
            x.method,
            x.path,
            x.query,
            x.headers,
            x.body or None,
            x.status,
            x.answer,
            "/api/talq",
        )


@contextlib.asynccontextmanager
async def running_talq_relay(engine: Any, link: TalqLink, config: Any = FAST) -> Any:
    import asyncio

    relay = talq_relay(engine, link, worker_id=f"test-{uuid.uuid4().hex[:8]}", config=config)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield relay
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


def test_a_group_override_reaches_the_gateway_as_one_talq_command_and_its_feedback_applies_it(
    engine, settings, tmp_path
):
    lights = seed_lights(engine, 40)
    cert, key = self_signed(tmp_path, "127.0.0.1")
    gateway = Gateway().serve(free_port(), tls=(cert, key))
    try:
        with live(settings) as base:
            gateway.cms_url = base + "/api/talq"
            add_gateway(settings, engine, gateway)
            addresses = announce(gateway, lights)
            code, group_address, err = cli(settings, "group", "G1")
            assert code == 0, err
            gateway.read_groups()
            assert gateway.groups == {group_address.strip(): sorted(addresses.values())}
            one = gateway.get_cms(f"/groups/{group_address.strip()}")
            assert one.status == 200 and json.loads(one.answer)["members"] == [
                {"resource": "devices", "address": a} for a in sorted(addresses.values())
            ]
            assert gateway.get_cms(f"/groups/{uuid.uuid4()}").status == 404
            link = TalqLink(
                url=gateway.url,
                cms_address=settings.talq_cms_address_resolved,
                ca_file=str(cert),
                allow_loopback=True,
                timeout_s=5.0,
            )

            # Claimed 10 at a time (500 in production): four rounds, still one group command.
            config = dataclasses.replace(FAST, batch=10)

            async def scenario() -> None:
                async with running_talq_relay(engine, link, config) as relay:
                    with write_session(engine) as session:
                        made = control.set_override(session, "group", "G1", 35, 10, now=utcnow())
                    assert made.commands == 40
                    relay.wake()
                    await eventually(lambda: states(engine) == {"applied": 40}, timeout=15)
                    assert relay.backend.requests == 1

            run_async(scenario(), timeout=30)
            # Telemetry from the same feedback, stored as MQTT telemetry is.
            with read_session(engine) as session:
                rows = session.scalars(select(Streetlight)).all()
                assert {
                    (r.effect_level, r.effect_reason, r.actual_level, r.power_w) for r in rows
                } == {(35, "override", 35, 21.5)}
                assert len(session.scalars(select(LightReading)).all()) == 40
                override_id = session.scalars(select(LightOverride.id)).one()
    finally:
        gateway.close()
    [command] = [r for r in gateway.received if r.path == "/override-commands"]
    assert command.errors == [] and command.method == "POST"
    assert dict(command.query)["clientAddress"] == settings.talq_cms_address_resolved
    assert command.headers["talq-api-version"] == "2.7.1"
    assert command.body["addresses"] == [{"resource": "groups", "address": group_address.strip()}]
    target = command.body["targetCommand"]
    assert target["state"] == {"name": "LevelState", "value": 35}
    assert target["reason"] == "override" and target["cmsRefId"] == f"eclor-override-{override_id}"
    expires = dt.datetime.fromisoformat(target["expiration"].replace("Z", "+00:00"))
    assert dt.timedelta(minutes=9) < expires - utcnow() <= dt.timedelta(minutes=10)
    check_cms_exchanges(gateway)


def test_a_gateway_that_never_answers_leaves_the_commands_expired(engine, settings):
    lights = seed_lights(engine, 3)
    gateway = Gateway(mode="silent").serve(free_port())
    with write_session(engine) as session:
        gateway_row = TalqGateway(
            name="Muette", address=gateway.address, key_hash="x" * 64, key_prefix="x"
        )
        session.add(gateway_row)
        session.flush()
        for light in lights:
            session.add(
                TalqDevice(
                    light_id=light,
                    gateway_id=gateway_row.id,
                    device_address=str(uuid.uuid4()),
                    actuator_function="lampActuator",
                )
            )
    link = TalqLink(
        url=gateway.url,
        cms_address=settings.talq_cms_address_resolved,
        allow_loopback=True,
        timeout_s=0.3,
        probe_s=0.2,
    )
    config = dataclasses.replace(FAST, retry_initial_s=0.3, retry_max_s=0.3)

    async def scenario() -> None:
        async with running_talq_relay(engine, link, config) as relay:
            now = utcnow()
            with write_session(engine) as session:
                override = LightOverride(
                    scope="group",
                    target_id="G1",
                    level=60,
                    expires_at=now + dt.timedelta(seconds=1.5),
                    created_at=now,
                )
                session.add(override)
                session.flush()
                control.issue_commands(
                    session,
                    control.lights_of(session, "group", "G1"),
                    level=60,
                    reason="override",
                    expires_at=now + dt.timedelta(seconds=1.5),
                    now=now,
                    override_id=override.id,
                    ramp_s=5,
                )
            relay.wake()
            await eventually(lambda: states(engine) == {"expired": 3}, timeout=10)
            assert not relay.backend.connected.is_set()

    try:
        run_async(scenario(), timeout=20)
    finally:
        gateway.close()
    # Sent once; the gateway then counts as unavailable and is asked (GET /services) until the end.
    sent = [r.body for r in gateway.received if r.path == "/override-commands"]
    probes = [r for r in gateway.received if (r.method, r.path) == ("GET", "/services")]
    assert len(sent) == 1 and len(probes) >= 1 and gateway.unanswered == len(sent) + len(probes)
    assert sent[0]["targetCommand"]["rampToLevelTime"] == 5.0
    assert sent[0]["targetCommand"]["expiration"].endswith("Z")
    assert len(sent[0]["addresses"]) == 3
    with read_session(engine) as session:
        assert {(r.effect_level, r.target_level) for r in session.scalars(select(Streetlight))} == {
            (None, 60)
        }


def _program(session: Any, name: str, steps: list[tuple[str, int]]) -> LightProgram:
    from app.lighting.programs import Program

    row = LightProgram(name=name, definition=json.dumps(Program.from_pairs(steps).to_dict()))
    session.add(row)
    session.flush()
    return row


def test_programs_and_calendars_exported_for_the_gateway_validate_and_keep_the_schedule(
    engine, settings
):
    seed_lights(engine, 4, group="G1")
    seed_lights(engine, 2, group="G2", prefix="SL-U-")
    with write_session(engine) as session:
        week = _program(
            session, "Semaine", [("sunset", 100), ("23:00", 50), ("05:00", 80), ("sunrise", 0)]
        )
        weekend = _program(session, "Week-end", [("dusk", 100), ("dawn", 0)])
        fetes = _program(session, "Fêtes", [("sunset-10", 100), ("sunrise+10", 0)])
        calendar = LightCalendar(
            name="Année",
            definition=json.dumps(
                {
                    "version": 1,
                    "default": "Semaine",
                    "rules": [
                        {"program": "Week-end", "weekdays": [5, 6], "priority": 0},
                        {
                            "program": "Fêtes",
                            "start": "12-24",
                            "end": "01-02",
                            "yearly": True,
                            "priority": 0,
                        },
                    ],
                }
            ),
        )
        session.add(calendar)
        session.flush()
        session.get(LightGroup, "G1").calendar_id = calendar.id
        session.get(LightGroup, "G2").program_id = weekend.id
    code, out, err = cli(settings, "export")
    assert code == 0, err
    found = json.loads(out)
    programs = {p["id"]: p for p in found["controlPrograms"]}
    assert set(programs) == {f"eclor-program-{p.id}" for p in (week, weekend, fetes)}
    for program in found["controlPrograms"]:
        assert schema_errors("ControlProgramOne", program) == []
        assert named_schema_errors(program) == []
    for calendar_object in found["calendars"]:
        assert schema_errors("Calendar", calendar_object) == []
        assert named_schema_errors(calendar_object) == []
    # The week program: the fixed times in time order from noon on, the evening handing over to them.
    semaine = programs[f"eclor-program-{week.id}"]
    assert [
        (c["startTime"], c["command"]["state"]["value"]) for c in semaine["fixedTimeControls"]
    ] == [("05:00:00", 80), ("12:00:00", 100), ("23:00:00", 50)]
    assert [
        (a["solarEventType"], a["offset"], a["operation"], a["command"]["state"]["value"])
        for a in semaine["astroClockTimeControls"]
    ] == [("sunset", 0, "Min", 100), ("sunrise", 0, "Set", 0)]
    # Dusk and dawn are sunset and sunrise shifted by their gap (about 20 minutes at 3°, at 49.5° N).
    weekend_astro = programs[f"eclor-program-{weekend.id}"]["astroClockTimeControls"]
    assert [a["solarEventType"] for a in weekend_astro] == ["sunset", "sunrise"]
    assert 10 <= weekend_astro[0]["offset"] <= 35 and -35 <= weekend_astro[1]["offset"] <= -10
    assert [
        a["offset"] for a in programs[f"eclor-program-{fetes.id}"]["astroClockTimeControls"]
    ] == [-10, 10]
    # The calendar: the date range before the weekdays (Eclor's precedence), split over the new year.
    [annee, g2] = sorted(found["calendars"], key=lambda c: c["id"])
    assert annee["defaultProgram"] == f"eclor-program-{week.id}"
    assert [
        (r["program"], r.get("startDate"), r.get("endDate"), r.get("condition"))
        for r in annee["rules"]
    ] == [
        (f"eclor-program-{fetes.id}", "--12-24", "--12-31", None),
        (f"eclor-program-{fetes.id}", "--01-01", "--01-02", None),
        (
            f"eclor-program-{weekend.id}",
            None,
            None,
            {"type": "ccDay", "days": [{"start": 6}, {"start": 7}]},
        ),
    ]
    assert g2 == {
        "id": f"eclor-program-{weekend.id}-calendar",
        "ownerCMS": settings.talq_cms_address_resolved,
        "rules": [],
        "defaultProgram": f"eclor-program-{weekend.id}",
    }
    assert found["assignments"] == {"G1": annee["id"], "G2": g2["id"]}

    # Pushed to the gateway: every request valid against the gateway file, each group assigned.
    gateway = Gateway().serve(free_port())
    try:
        with write_session(engine) as session:
            row = TalqGateway(name="GW", address=gateway.address, key_hash="y" * 64, key_prefix="y")
            session.add(row)
            session.flush()
            for i, light in enumerate(["SL-T-0001", "SL-T-0002", "SL-T-0003", "SL-T-0004"]):
                session.add(
                    TalqDevice(
                        light_id=light,
                        gateway_id=row.id,
                        device_address=str(uuid.UUID(int=i + 1)),
                        actuator_function="lampActuator",
                    )
                )
        assert cli(settings, "group", "G1")[0] == 0
        pushing = settings.model_copy(update={"talq_gateway_url": gateway.url})
        code, _out, err = cli(pushing, "export", "--push")
        assert code == 0, err
    finally:
        gateway.close()
    assert [(r.method, r.path) for r in gateway.received] == [
        ("POST", "/groups"),
        ("POST", "/control-programs"),
        ("POST", "/calendars"),
        ("POST", "/assign-commands"),  # G1 only: G2's lights are no TALQ devices
    ]
    assert all(r.errors == [] for r in gateway.received)
    assert len(gateway.programs) == 3 and len(gateway.calendars) == 2
    [to_group] = gateway.assignments
    assert to_group["addresses"] == [{"resource": "groups", "address": list(gateway.groups)[0]}]
    assert to_group["entity"] == {"resource": "calendars", "address": annee["id"]}
    assert "G2" in err  # said, not sent


def _talq(
    client: Any, method: str, path: str, key: str, address: str, body: Any = None, **headers: str
) -> Any:
    query = {"clientAddress": address, "talqRequestId": str(uuid.uuid4())}
    return client.request(
        method,
        f"/api/talq{path}",
        params=query,
        json=body,
        headers={"talq-api-version": "2.7.1", "authorization": f"Bearer {key}", **headers},
    )


def _validate(response: Any) -> None:
    req = response.request
    path = req.url.path.removeprefix("/api/talq")
    query = list(req.url.params.multi_items())
    headers = {k.lower(): v for k, v in req.headers.items()}
    assert (
        check_request(CMS, req.method, path, query, headers, req.content or None, "/api/talq") == []
    )
    check_response(
        CMS,
        req.method,
        path,
        query,
        headers,
        req.content or None,
        response.status_code,
        response.content,
        "/api/talq",
    )


def test_log_reports_events_and_bad_requests_through_the_cms_api(engine, settings, client):
    lights = seed_lights(engine, 2)
    gateway = Gateway()
    add_gateway(settings, engine, gateway)
    key, address = gateway.cms_key, gateway.address
    devices = [
        {
            "address": str(uuid.UUID(int=i + 1)),
            "name": light,
            "class": "Luminaire",
            "functions": [{"id": "mon", "type": "LampMonitorFunction"}],
        }
        for i, light in enumerate(lights)
    ]
    made = _talq(client, "POST", "/devices", key, address, devices)
    assert made.status_code == 201
    _validate(made)
    now = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    first = str(uuid.UUID(int=1))
    report = {
        "address": "logger-1",
        "entries": [
            {
                "data": {
                    "type": "AttributeLogData",
                    "srcAddress": f"{first}/mon",
                    "timestamp": now,
                    "attributeName": "activeEnergy",
                    "attributeValue": {"type": "AttributeFloat", "value": 1.25},
                }
            },
            {
                "data": {
                    "type": "AttributeLogData",
                    "srcAddress": f"{first}/mon",
                    "timestamp": now,
                    "attributeName": "activePower",
                    "attributeValue": {"type": "AttributeFloat", "value": 30.0},
                }
            },
            {
                "data": {
                    "type": "EventLogData",
                    "srcAddress": f"{first}/mon",
                    "timestamp": now,
                    "eventType": "lampFailure",
                    "startEndFlag": True,
                }
            },
        ],
    }
    sent = _talq(client, "POST", "/log-reports", key, address, report)
    assert sent.status_code == 201, sent.text
    _validate(sent)
    with read_session(engine) as session:
        light = session.get(Streetlight, lights[0])
        assert (light.status, light.energy_wh, light.power_w) == ("lampFailure", 1250.0, 30.0)
        [alarm] = session.scalars(select(LightAlarm)).all()
        assert (alarm.device_id, alarm.kind, alarm.cleared_at) == (lights[0], "lampFailure", None)
        assert session.get(Streetlight, lights[1]).status == "ok"
    # The failure ends: the status clears, and so does the alarm.
    report["entries"] = [
        {
            "data": {
                "type": "EventLogData",
                "srcAddress": first,
                "timestamp": now,
                "eventType": "lampFailure",
                "startEndFlag": False,
            }
        }
    ]
    assert _talq(client, "POST", "/log-reports", key, address, report).status_code == 201
    with read_session(engine) as session:
        assert session.get(Streetlight, lights[0]).status == "ok"
        assert session.scalars(select(LightAlarm.cleared_at)).one() is not None

    # Refused: no key, another gateway's address, no version header, a body the files do not allow.
    assert _talq(client, "POST", "/log-reports", "nope", address, report).status_code == 401
    assert _talq(client, "POST", "/log-reports", key, str(uuid.uuid4()), report).status_code == 401
    no_version = client.post(
        "/api/talq/services",
        params={"clientAddress": address, "talqRequestId": str(uuid.uuid4())},
        json=[],
        headers={"authorization": f"Bearer {key}"},
    )
    assert no_version.status_code == 400 and no_version.json()[0]["key"] == "headerMissing"
    bad = _talq(
        client,
        "POST",
        "/log-reports",
        key,
        address,
        {
            "entries": [
                {"data": {"type": "AttributeLogData", "srcAddress": first, "timestamp": "hier"}}
            ]
        },
    )
    assert bad.status_code == 400 and bad.json()[0]["key"] == "payloadError"
    assert (
        "attributeName" in bad.json()[0]["description"]
        or "Horodatage" in bad.json()[0]["description"]
    )
    check_response(
        CMS,
        "POST",
        "/log-reports",
        [("clientAddress", address), ("talqRequestId", str(uuid.uuid4()))],
        {"talq-api-version": "2.7.1"},
        None,
        bad.status_code,
        bad.content,
        "/api/talq",
    )
    unknown = _talq(
        client,
        "PATCH",
        f"/devices/{uuid.uuid4()}",
        key,
        address,
        {"address": "x", "name": "x", "class": "Luminaire", "functions": []},
    )
    assert unknown.status_code == 404 and unknown.json()[0]["key"] == "resourceNotFound"
    english = _talq(
        client, "POST", "/services", key, address, {"name": "x"}, **{"accept-language": "en"}
    )
    assert (
        english.status_code == 400
        and english.json()[0]["description"] == "Services: a list of JSON objects is expected."
    )
    with read_session(engine) as session:  # nothing half-written by the refused requests
        assert session.get(Streetlight, lights[0]).energy_wh == 1250.0


def _mapped(engine: Any, lights: list[str], address: str) -> dict[str, str]:
    """The lights as TALQ devices of a gateway at ``address`` (as its POST /devices would make)."""
    devices = {light: str(uuid.uuid4()) for light in lights}
    with write_session(engine) as session:
        row = TalqGateway(name="GW", address=address, key_hash="z" * 64, key_prefix="z")
        session.add(row)
        session.flush()
        for light, device in devices.items():
            session.add(
                TalqDevice(
                    light_id=light,
                    gateway_id=row.id,
                    device_address=device,
                    actuator_function="lampActuator",
                )
            )
    return devices


def _run_override(
    engine: Any, link: TalqLink, scope: str, target: str, level: int, until: Any = None
) -> Any:
    """An override under a TALQ relay, until ``until(relay)`` (default: no command left queued)."""

    async def scenario() -> Any:
        async with running_talq_relay(engine, link) as relay:
            with write_session(engine) as session:
                control.set_override(session, scope, target, level, 10, now=utcnow())
            relay.wake()
            if until is None:
                await eventually(lambda: "queued" not in states(engine), timeout=10)
            else:
                await eventually(lambda: until(relay), timeout=10)
            return relay

    return run_async(scenario(), timeout=20)


def test_a_command_to_one_light_goes_to_its_lamp_actuator_and_the_gateways_answer_decides(
    engine, settings
):
    lights = seed_lights(engine, 3)
    processed = Gateway(override_status=201).serve(free_port())
    try:
        devices = _mapped(engine, lights, processed.address)
        link = TalqLink(
            url=processed.url,
            cms_address=settings.talq_cms_address_resolved,
            allow_loopback=True,
            timeout_s=5.0,
        )
        _run_override(engine, link, "light", lights[1], 80)
    finally:
        processed.close()
    [sent] = [r for r in processed.received if r.path == "/override-commands"]
    assert sent.errors == []
    assert sent.body["addresses"] == [
        {"resource": "devices", "address": f"{devices[lights[1]]}/lampActuator"}
    ]
    assert sent.body["targetCommand"]["state"] == {"name": "LevelState", "value": 80}
    assert states(engine) == {"accepted": 1}  # 201: processed; applied once the feedback says so

    refusing = Gateway(override_status=422).serve(free_port())
    try:
        link = dataclasses.replace(link, url=refusing.url)
        _run_override(engine, link, "group", "G1", 10)
    finally:
        refusing.close()
    [refused] = [r for r in refusing.received if r.path == "/override-commands"]
    # G1 is not a TALQ group here: the three lamp actuators are addressed, in one request.
    assert sorted(a["address"] for a in refused.body["addresses"]) == sorted(
        f"{d}/lampActuator" for d in devices.values()
    )
    with read_session(engine) as session:
        from app.models.lighting import LightCommand

        rows = session.scalars(select(LightCommand).where(LightCommand.level == 10)).all()
        assert {(r.state, r.last_error) for r in rows} == {("failed", "device answered rejected")}


def test_tls_and_the_outbound_guard_are_not_bypassed(engine, settings, tmp_path, caplog):
    lights = seed_lights(engine, 1)
    cert, key = self_signed(tmp_path, "127.0.0.1")
    gateway = Gateway().serve(free_port(), tls=(cert, key))
    try:
        _mapped(engine, lights, gateway.address)
        # A certificate no CA of ours signed: never talked to.
        untrusted = TalqLink(
            url=gateway.url,
            cms_address=settings.talq_cms_address_resolved,
            allow_loopback=True,
            timeout_s=2.0,
            probe_s=0.2,
        )
        relay = _run_override(
            engine,
            untrusted,
            "light",
            lights[0],
            50,
            until=lambda r: r.stats.publish_failures >= 1,
        )
        assert relay.backend.requests == 0 and not relay.backend.connected.is_set()
        assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
        # Loopback is not a public address: refused by the guard unless allowed (tests, development).
        guarded = dataclasses.replace(untrusted, ca_file=str(cert), allow_loopback=False)
        relay = _run_override(
            engine,
            guarded,
            "light",
            lights[0],
            60,
            until=lambda r: r.stats.publish_failures >= 1,
        )
        assert relay.backend.requests == 0 and not relay.backend.connected.is_set()
        assert "n'est pas une adresse publique" in caplog.text
    finally:
        gateway.close()
    assert gateway.received == []
    assert set(states(engine)) <= {"queued", "superseded"}


def test_production_wants_an_https_gateway(tmp_path):
    import pytest

    from app.settings import Settings, SettingsError

    base = {
        "env": "production",
        "var_dir": tmp_path,
        "database_url": "postgresql://x/y",
        "secret_key": "s" * 40,
        "vapid_subject": "mailto:ops@ccphva.example.org",
        "lighting_backend": "talq",
    }
    with pytest.raises(SettingsError, match="https"):
        Settings(**base, talq_gateway_url="http://gw.example.org/talq").prepare()
    with pytest.raises(SettingsError, match="UUID"):
        Settings(
            **{**base, "env": "development"},
            talq_gateway_url="https://gw.example.org",
            talq_cms_address="nope",
        ).prepare()


def test_a_state_change_in_a_log_report_applies_the_command_it_names(engine, settings, client):
    lights = seed_lights(engine, 2)
    gateway = Gateway()
    add_gateway(settings, engine, gateway)
    devices = [
        {
            "address": str(uuid.UUID(int=i + 7)),
            "name": light,
            "class": "Luminaire",
            "functions": [{"id": "act", "type": "LampActuatorFunction"}],
        }
        for i, light in enumerate(lights)
    ]
    assert (
        _talq(client, "POST", "/devices", gateway.cms_key, gateway.address, devices).status_code
        == 201
    )
    with write_session(engine) as session:
        control.set_override(session, "group", "G1", 45, 30, now=utcnow())
        override_id = session.scalars(select(LightOverride.id)).one()
    now = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = {
        "type": "StateChangeEventLogData",
        "srcAddress": f"{uuid.UUID(int=7)}/act",
        "timestamp": now,
        "eventType": "lightStateChange",
        "command": {
            "state": {"name": "LevelState", "value": 45},
            "reason": "override",
            "cmsRefId": f"eclor-override-{override_id}",
        },
        "state": {"name": "LevelState", "value": 44},
    }
    # Another command's feedback (another cmsRefId) does not apply this one.
    stranger = {
        **entry,
        "srcAddress": f"{uuid.UUID(int=8)}/act",
        "command": {**entry["command"], "cmsRefId": "eclor-override-999"},
    }
    sent = _talq(
        client,
        "POST",
        "/log-reports",
        gateway.cms_key,
        gateway.address,
        {"address": "logger", "entries": [{"data": entry}, {"data": stranger}]},
    )
    assert sent.status_code == 201, sent.text
    _validate(sent)
    with read_session(engine) as session:
        from app.models.lighting import LightCommand

        found = {
            c.light_id: (c.state, c.actual_level) for c in session.scalars(select(LightCommand))
        }
        assert found == {lights[0]: ("applied", 44), lights[1]: ("queued", None)}
        assert session.get(Streetlight, lights[0]).effect_level == 44


def test_the_worker_runs_the_talq_relay_when_the_settings_say_so(engine, settings):
    import asyncio
    from types import SimpleNamespace

    from app.lighting.relay import relay_service
    from app.lighting.talq_backend import TalqBackend

    talq_settings = settings.model_copy(
        update={"lighting_backend": "talq", "talq_gateway_url": "https://gw.example.org/talq"}
    )

    async def scenario() -> None:
        rt = SimpleNamespace(
            settings=talq_settings, engine=engine, worker_id="w-1", state={}, stop=asyncio.Event()
        )
        task = asyncio.create_task(relay_service(rt))
        await eventually(lambda: "lighting_relay" in rt.state, timeout=5)
        backend = rt.state["lighting_relay"].backend
        assert isinstance(backend, TalqBackend)
        assert backend.link.url == "https://gw.example.org/talq"
        assert backend.link.cms_address == settings.talq_cms_address_resolved
        rt.stop.set()
        await asyncio.wait_for(task, 10)

    run_async(scenario(), timeout=15)
