"""Public lighting on an install of several territories: the inventory, programs, calendars and
device alarms belong to a territory; every staff lighting page and action answers with the host's
territory's rows only, and a group command issued on one territory's host never reaches a light of
another (through the real relay and broker)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import read_session, utcnow, write_session
from app.device_alarms import raise_alarm
from app.lighting import control
from app.models.lighting import (
    LightAlarm,
    LightCabinet,
    LightCalendar,
    LightCommand,
    LightGroup,
    LightOverride,
    LightProgram,
    Streetlight,
)
from tests.lighting_helpers import eventually, running_fleet, running_relay, seed_lights
from tests.mqtt_fixtures import run_async
from tests.territory_sweep import domain_routes
from tests.test_territories import ESCH, add_minett

SECRET = "Groupe-secret-du-Minett"
B_PROGRAM = "Programme-du-Minett"
B_CALENDAR = "Calendrier-du-Minett"
B_LIGHTS = [f"SL-ESCH-{n:04d}" for n in range(1, 4)]
LIGHTING_DOMAIN = ("/staff/lighting",)
STEPS = {"name": B_PROGRAM, "steps": [{"at": "dusk", "level": 80}, {"at": "dawn", "level": 0}]}


def seed_minett(engine: Any, minett: int) -> dict[str, Any]:
    """The Minett's cabinet, group, lights, program, calendar and an alarm of one of its lights."""
    with write_session(engine) as session:
        program = LightProgram(name=B_PROGRAM, definition=json.dumps(STEPS), territory_id=minett)
        session.add(program)
        session.flush()
        calendar = LightCalendar(
            name=B_CALENDAR,
            definition=json.dumps({"name": B_CALENDAR, "default": B_PROGRAM, "rules": []}),
            territory_id=minett,
        )
        session.add(calendar)
        session.add(
            LightCabinet(
                id="CAB-ESCH",
                name="Armoire d’Esch",
                commune_insee="L0204",
                lat=49.495,
                lon=5.98,
                territory_id=minett,
            )
        )
        session.flush()
        session.add(
            LightGroup(
                id="ESCH-G",
                name=SECRET,
                commune_insee="L0204",
                cabinet_id="CAB-ESCH",
                program_id=program.id,
                territory_id=minett,
            )
        )
        session.flush()
        for n, light_id in enumerate(B_LIGHTS):
            session.add(
                Streetlight(
                    id=light_id,
                    device_id=light_id,
                    group_id="ESCH-G",
                    cabinet_id="CAB-ESCH",
                    commune_insee="L0204",
                    street="Rue de l’Alzette",
                    lat=49.495 + n * 1e-4,
                    lon=5.98,
                    territory_id=minett,
                )
            )
        session.flush()
        # Raised as the relay raises it: the alarm takes its device's territory.
        raise_alarm(session, B_LIGHTS[0], "defectiveLamp", utcnow())
        program_id, calendar_id = program.id, calendar.id
    with read_session(engine) as session:
        alarm = session.scalars(select(LightAlarm).where(LightAlarm.device_id == B_LIGHTS[0])).one()
        assert alarm.territory_id == minett
        alarm_id = alarm.id
    return {
        "minett": minett,
        "program_id": program_id,
        "calendar_id": calendar_id,
        "alarm_id": alarm_id,
    }


@pytest.fixture
def lit(engine) -> dict[str, Any]:
    """Two territories with lights: the first's group G1 (five lights at Audun-le-Tiche), the
    Minett's group ESCH-G (three lights at Esch-sur-Alzette), a program, a calendar and an alarm
    each."""
    minett = int(add_minett(engine).id or 0)
    a_lights = seed_lights(engine, 5)
    with write_session(engine) as session:
        program = LightProgram(
            name="Programme-de-Pays-Haut",
            definition=json.dumps({**STEPS, "name": "Programme-de-Pays-Haut"}),
        )
        session.add(program)
        session.flush()
        a_program = program.id
        raise_alarm(session, a_lights[0], "defectiveLamp", utcnow())
    b = seed_minett(engine, minett)
    with read_session(engine) as session:
        a_alarm = session.scalars(
            select(col_id(LightAlarm)).where(LightAlarm.device_id == a_lights[0])
        ).one()
    return {**b, "a_lights": a_lights, "a_program": a_program, "a_alarm": a_alarm}


def col_id(model: Any) -> Any:
    return model.id


def _b_state(engine: Any) -> list[Any]:
    """Everything of the Minett's that a staff action could change."""
    with read_session(engine) as session:
        lights = session.scalars(
            select(Streetlight).where(Streetlight.territory_id != 1).order_by(Streetlight.id)
        ).all()
        group = session.get(LightGroup, "ESCH-G")
        programs = session.scalars(select(LightProgram).where(LightProgram.territory_id != 1)).all()
        calendars = session.scalars(
            select(LightCalendar).where(LightCalendar.territory_id != 1)
        ).all()
        alarms = session.scalars(select(LightAlarm).where(LightAlarm.territory_id != 1)).all()
        commands = session.scalar(
            select(func.count())
            .select_from(LightCommand)
            .where(LightCommand.light_id.in_(B_LIGHTS))  # type: ignore[attr-defined]
        )
        overrides = session.scalar(
            select(func.count())
            .select_from(LightOverride)
            .where(LightOverride.target_id.in_(["ESCH-G", *B_LIGHTS]))  # type: ignore[attr-defined]
        )
        return [
            [(x.id, x.target_level, x.territory_id) for x in lights],
            group and (group.name, group.program_id, group.calendar_id, group.territory_id),
            [(p.id, p.name, p.definition, p.archived_at) for p in programs],
            [(c.id, c.name, c.definition) for c in calendars],
            [(a.id, a.acknowledged_at) for a in alarms],
            commands,
            overrides,
        ]


def _domain_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route of the lighting staff pages in the app's route table."""
    return domain_routes(app, LIGHTING_DOMAIN)


def _fill(path: str, lit: dict[str, Any], side: str) -> str:
    """The path with A's (``side='a'``) or the Minett's (``'b'``) sample for each parameter."""
    samples = {
        "group_id": {"a": "G1", "b": "ESCH-G"},
        "light_id": {"a": lit["a_lights"][0], "b": B_LIGHTS[0]},
        "program_id": {"a": str(lit["a_program"]), "b": str(lit["program_id"])},
        "calendar_id": {"a": None, "b": str(lit["calendar_id"])},
        "alarm_id": {"a": str(lit["a_alarm"]), "b": str(lit["alarm_id"])},
    }

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in samples:
            raise AssertionError(
                f"{path}: a lighting route with a parameter this sweep has no sample for"
            )
        value = samples[name][side]
        return value if value is not None else "0"

    return re.sub(r"\{(\w+):\w+\}", one, path)


def _leaks(text: str, url: str = "") -> list[str]:
    """The Minett's marks in a page (but an id the URL asked for, which an error page repeats)."""
    marks = (SECRET, B_PROGRAM, B_CALENDAR, "ESCH-G", "CAB-ESCH", "SL-ESCH-", "Esch-sur-Alzette")
    return [mark for mark in marks if mark in text and mark not in url]


def test_staff_of_one_territory_sweeping_every_lighting_route_find_nothing_of_the_other(
    app, engine, lit, personas
):
    staff = personas["staff"]
    routes = _domain_routes(app)
    gets = [p for m, p in routes if m == "GET"]
    posts = [p for m, p in routes if m == "POST"]
    assert "/staff/lighting" in gets and "/staff/lighting/groups/{group_id:str}" in gets
    assert len(gets) >= 9 and len(posts) >= 10
    before = _b_state(engine)
    read = refused = 0
    for path in gets:
        if "{" not in path:
            urls = [path]
        else:
            urls = [_fill(path, lit, "a")] if "{calendar_id" not in path else []
            url = _fill(path, lit, "b")
            answer = staff.client.get(url, follow_redirects=False)
            assert answer.status_code in (403, 404), (path, answer.status_code)
            assert not _leaks(answer.text, url), (path, _leaks(answer.text, url))
            refused += 1
        for url in urls:
            answer = staff.client.get(url, follow_redirects=False)
            assert answer.status_code == 200, (url, answer.status_code)
            assert not _leaks(answer.text), (url, _leaks(answer.text))
            read += 1
    assert read >= 8 and refused >= 4
    for url in ("/staff/lighting/alarms?show=all", "/staff/lighting/alarms?show=open"):
        answer = staff.client.get(url)
        assert answer.status_code == 200 and not _leaks(answer.text), url
        assert lit["a_lights"][0] in answer.text  # A's own alarm is there
    # Every action on one of the Minett's rows: not found, nothing changed, no command queued.
    form = {
        "level": "20",
        "minutes": "30",
        "program_id": str(lit["a_program"]),
        "calendar_id": "",
        "name": "Renommé",
        "steps": "dusk 100\ndawn 0",
        "twilight_deg": "3",
        "default": str(lit["a_program"]),
        "confirm_warnings": "true",
    }
    acted = 0
    for path in posts:
        if "{" not in path:
            continue
        answer = staff.client.post_form(_fill(path, lit, "b"), form)
        assert answer.status_code in (403, 404), (path, answer.status_code)
        acted += 1
    assert acted >= 9
    # A's group cannot be given the Minett's program or calendar either.
    answer = staff.client.post_form(
        "/staff/lighting/groups/G1/program",
        {"program_id": str(lit["program_id"]), "calendar_id": str(lit["calendar_id"])},
    )
    assert answer.status_code == 400
    assert _b_state(engine) == before
    with read_session(engine) as session:
        assert session.get(LightGroup, "G1").program_id is None  # type: ignore[union-attr]


def test_the_minetts_staff_see_the_minetts_lighting_on_its_host_and_none_of_the_first(
    engine, lit, personas
):
    from app.models.accounts import User

    persona = personas["elected"]
    with write_session(engine) as session:
        user = session.get(User, persona.id)
        assert user is not None
        user.role, user.territory_id = "staff", lit["minett"]
    client = persona.client
    overview = client.get("/staff/lighting", headers=ESCH)
    assert overview.status_code == 200
    assert SECRET in overview.text and "Groupe G1" not in overview.text
    assert "3 points lumineux" in overview.text
    assert client.get("/staff/lighting/groups/G1", headers=ESCH).status_code == 404
    assert client.get("/staff/lighting/groups/ESCH-G", headers=ESCH).status_code == 200
    programs = client.get("/staff/lighting/programs", headers=ESCH).text
    assert B_PROGRAM in programs and "Programme-de-Pays-Haut" not in programs
    alarms = client.get("/staff/lighting/alarms?show=all", headers=ESCH).text
    assert B_LIGHTS[0] in alarms and lit["a_lights"][0] not in alarms
    energy = client.get("/staff/lighting/energy", headers=ESCH)
    assert energy.status_code == 200
    # A program written on the Minett's host is the Minett's.
    answer = client.post_form(
        "/staff/lighting/programs/new",
        {
            "name": "Nuit-d-Esch",
            "steps": "dusk 100\ndawn 0",
            "twilight_deg": "3",
            "confirm_warnings": "true",
        },
        headers=ESCH,
    )
    assert answer.status_code == 303, answer.text
    with read_session(engine) as session:
        row = session.scalars(select(LightProgram).where(LightProgram.name == "Nuit-d-Esch")).one()
        assert row.territory_id == lit["minett"]
    # The first territory's staff do not see it.
    assert "Nuit-d-Esch" not in personas["staff"].client.get("/staff/lighting/programs").text


def test_an_inventory_import_stays_inside_the_importing_territory(engine, lit, personas):
    staff = personas["staff"]

    def upload(csv: str):
        return staff.client.post(
            "/staff/lighting/import",
            data={"_csrf_token": staff.client.csrf_token()},
            files=[("file", ("lights.csv", csv.encode(), "text/csv"))],
        )

    header = "id,device_id,group,cabinet,commune,lat,lon\n"
    before = _b_state(engine)
    # A light placed in a commune of the Minett, and one taking over the Minett's light: refused.
    in_esch = upload(header + "SL-NEW-1,SL-NEW-1,G1,CAB-T,L0204,49.495,5.98\n")
    assert in_esch.status_code == 400 and "pas de ce territoire" in in_esch.text
    taken = upload(header + f"{B_LIGHTS[1]},{B_LIGHTS[1]},G1,CAB-T,57038,49.472,5.955\n")
    assert taken.status_code == 400 and "déjà pris" in taken.text
    assert _b_state(engine) == before
    ok = upload(header + "SL-NEW-2,SL-NEW-2,G9,CAB-T,57038,49.472,5.955\n")
    assert ok.status_code == 200, ok.text
    with read_session(engine) as session:
        assert session.get(Streetlight, "SL-NEW-2").territory_id == 1  # type: ignore[union-attr]
        assert session.get(LightGroup, "G9").territory_id == 1  # type: ignore[union-attr]


def test_a_group_command_issued_on_one_host_never_reaches_a_light_of_another_territory(
    engine, lit, personas, mqtt_url, topic_prefix
):
    staff = personas["staff"]
    a_lights = lit["a_lights"]
    # An old inventory filed one of the Minett's lights under A's group: a command to the group
    # still stays inside A's territory.
    with write_session(engine) as session:
        stray = session.get(Streetlight, B_LIGHTS[2])
        assert stray is not None
        stray.group_id = "G1"
        group = session.get(LightGroup, "ESCH-G")
        assert group is not None
        group.program_id = None  # the Minett's lights get no program command of their own here

    async def scenario() -> None:
        async with (
            running_fleet(mqtt_url, topic_prefix, a_lights) as ours,
            running_fleet(mqtt_url, topic_prefix, B_LIGHTS) as theirs,
            running_relay(engine, mqtt_url, topic_prefix),
        ):
            # On A's host, the Minett's group is not found: nothing is queued or published.
            answer = await asyncio.to_thread(
                staff.client.post_form, "/staff/lighting/groups/ESCH-G/override", {"level": "5"}
            )
            assert answer.status_code == 404
            answer = await asyncio.to_thread(
                staff.client.post_form, "/staff/lighting/groups/G1/override", {"level": "35"}
            )
            assert answer.status_code == 303
            assert answer.headers["location"].endswith("done=override-5")
            await eventually(lambda: ours.stats.commands_applied == 5, timeout=20)
            await asyncio.sleep(0.5)  # what would have reached the Minett's lights has by now
            assert theirs.stats.commands_received == 0
            loop_time = asyncio.get_running_loop().time()
            assert {round(ours.lights[i].level_at(loop_time)) for i in a_lights} == {35}

    run_async(scenario(), timeout=40)
    with read_session(engine) as session:
        sent = session.scalars(select(LightCommand.light_id)).all()
    assert sorted(sent) == sorted(a_lights)


def test_a_group_command_reaches_only_the_lights_of_the_groups_territory(engine, lit):
    with write_session(engine) as session:
        stray = session.get(Streetlight, B_LIGHTS[2])
        assert stray is not None
        stray.group_id = "G1"
    with write_session(engine) as session:
        result = control.set_override(session, "group", "G1", 40, 10, now=utcnow())
        assert result.commands == 5
        assert B_LIGHTS[2] not in {light for light, _d in control.lights_of(session, "group", "G1")}
    with write_session(engine) as session:
        # The periodic reconcile follows each group's territory too (the Minett's program reaches
        # the Minett's two lights still in its group, nothing reaches the stray one).
        assert control.reconcile(session, utcnow(), group_ids=["G1", "ESCH-G"]) == 2
    with read_session(engine) as session:
        stray_commands = session.scalars(
            select(LightCommand).where(LightCommand.light_id == B_LIGHTS[2])
        ).all()
    assert stray_commands == []


def test_program_and_calendar_names_are_unique_per_territory_only(engine, lit, personas):
    """The Minett's staff may name a program or calendar as the first territory's (they never see
    those, and are not told they exist); a name already used in their own territory is refused."""
    from app.models.accounts import User

    persona = personas["elected"]
    with write_session(engine) as session:
        user = session.get(User, persona.id)
        assert user is not None
        user.role, user.territory_id = "staff", lit["minett"]
    client = persona.client
    program = {"steps": "dusk 100\ndawn 0", "twilight_deg": "3", "confirm_warnings": "true"}
    named_as_a = client.post_form(
        "/staff/lighting/programs/new", {**program, "name": "Programme-de-Pays-Haut"}, headers=ESCH
    )
    assert named_as_a.status_code == 303, named_as_a.text
    twice = client.post_form(
        "/staff/lighting/programs/new", {**program, "name": B_PROGRAM}, headers=ESCH
    )
    assert twice.status_code == 400 and "porte déjà ce nom" in twice.text
    with read_session(engine) as session:
        rows = session.scalars(
            select(LightProgram).where(LightProgram.name == "Programme-de-Pays-Haut")
        ).all()
        assert sorted(r.territory_id for r in rows) == sorted([1, lit["minett"]])
        minett_program = session.scalars(
            select(LightProgram.id).where(LightProgram.name == B_PROGRAM)
        ).one()
    # A calendar named as one of the first territory's (written there by its staff).
    first = personas["staff"].client.post_form(
        "/staff/lighting/calendars/new",
        {"name": "Année", "default": str(lit["a_program"]), "rule_count": "0"},
    )
    assert first.status_code == 303, first.text
    same = client.post_form(
        "/staff/lighting/calendars/new",
        {"name": "Année", "default": str(minett_program), "rule_count": "0"},
        headers=ESCH,
    )
    assert same.status_code == 303, same.text
    again = client.post_form(
        "/staff/lighting/calendars/new",
        {"name": "Année", "default": str(minett_program), "rule_count": "0"},
        headers=ESCH,
    )
    assert again.status_code == 400 and "porte déjà ce nom" in again.text
    with read_session(engine) as session:
        calendars = session.scalars(select(LightCalendar).where(LightCalendar.name == "Année"))
        assert sorted(c.territory_id for c in calendars) == sorted([1, lit["minett"]])
