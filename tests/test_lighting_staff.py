"""Staff lighting pages and the CLI: group control, back to program, program and calendar editors,
alarms, inventory import; bad input changes nothing."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.cli import main as cli_main
from app.db import read_session, write_session
from app.models.lighting import (
    LightAlarm,
    LightCommand,
    LightGroup,
    LightOverride,
    LightProgram,
    Streetlight,
)
from tests.lighting_helpers import seed_lights


def _count(engine, model) -> int:
    with read_session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_overview_lists_the_groups_and_sends_to_the_live_map(engine, staff):
    seed_lights(engine, 12)
    page = staff.client.get("/staff/lighting")
    assert page.status_code == 200
    assert "<circle" not in page.text and "light-map" not in page.text  # no second, static map
    assert 'href="/staff/ops"' in page.text and "12 points lumineux" in page.text
    assert "Groupe G1" in page.text and "/staff/lighting/groups/G1" in page.text
    group = staff.client.get("/staff/lighting/groups/G1")
    assert "<circle" not in group.text
    assert 'href="/staff/ops?open=lights/SL-T-0001"' in group.text


def test_one_action_overrides_a_whole_group_with_one_command_per_light(engine, staff):
    lights = seed_lights(engine, 40)
    answer = staff.client.post_form(
        "/staff/lighting/groups/G1/override", {"level": "30", "minutes": "90"}
    )
    assert (
        answer.status_code == 303
        and answer.headers["location"] == "/staff/lighting/groups/G1?done=override-40"
    )
    with read_session(engine) as session:
        commands = session.scalars(select(LightCommand)).all()
        override = session.scalars(select(LightOverride)).one()
    assert sorted(c.light_id for c in commands) == lights
    assert {(c.level, c.reason, c.state) for c in commands} == {(30, "override", "queued")}
    assert len({c.command_id for c in commands}) == 40
    assert override.level == 30 and override.created_by == staff.id
    page = staff.client.get(answer.headers["location"])
    assert "40 commandes à envoyer" in page.text and "Forcé à 30 %" in page.text


def test_it_rejects_a_level_out_of_range_and_changes_nothing(engine, staff):
    seed_lights(engine, 5)
    for data in ({"level": "140"}, {"level": "abc"}, {"level": "50", "minutes": "0"}, {}):
        answer = staff.client.post_form("/staff/lighting/groups/G1/override", data)
        assert answer.status_code == 400, data
        assert "field-error" in answer.text
    assert _count(engine, LightCommand) == 0 and _count(engine, LightOverride) == 0


def test_it_answers_404_for_an_unknown_group_or_light(staff):
    assert staff.client.get("/staff/lighting/groups/NOPE").status_code == 404
    assert (
        staff.client.post_form("/staff/lighting/lights/NOPE/override", {"level": "10"}).status_code
        == 404
    )


def test_a_light_override_and_back_to_program(engine, staff):
    lights = seed_lights(engine, 3)
    assert (
        staff.client.post_form(
            f"/staff/lighting/lights/{lights[1]}/override", {"level": "0"}
        ).status_code
        == 303
    )
    answer = staff.client.post_form(f"/staff/lighting/lights/{lights[1]}/resume", {})
    assert answer.status_code == 303
    with read_session(engine) as session:
        assert session.scalars(select(LightOverride.state)).all() == ["cancelled"]
        assert session.scalars(select(LightCommand.light_id)).all() == [lights[1]]
    page = staff.client.get(f"/staff/lighting/lights/{lights[1]}")
    assert "Consigne" in page.text and "En vigueur" in page.text and "Mesuré" in page.text


def test_the_program_editor_saves_a_valid_program_and_explains_a_bad_one(engine, staff):
    bad = staff.client.post_form(
        "/staff/lighting/programs/new",
        {"name": "Essai", "steps": "dusk 100\nminuit 20\ndawn 0", "twilight_deg": "3"},
    )
    assert bad.status_code == 400 and "Étape 2" in bad.text
    assert _count(engine, LightProgram) == 0
    good = staff.client.post_form(
        "/staff/lighting/programs/new",
        {
            "name": "Essai",
            "steps": "sunset+10 100\n22:30 40\n05:30 100\nsunrise-10 0",
            "boost_level": "100",
            "hold_s": "90",
            "twilight_deg": "3",
        },
    )
    assert good.status_code == 303
    with read_session(engine) as session:
        row = session.scalars(select(LightProgram)).one()
    definition = json.loads(row.definition)
    assert [s["at"] for s in definition["steps"]] == ["sunset+10", "22:30", "05:30", "sunrise-10"]
    assert definition["boost_level"] == 100 and definition["hold_s"] == 90
    listing = staff.client.get("/staff/lighting/programs")
    assert "Essai" in listing.text and "Cette nuit" in listing.text


def test_assigning_a_program_to_a_group_sends_its_level(engine, staff):
    seed_lights(engine, 6)
    staff.client.post_form(
        "/staff/lighting/programs/new", {"name": "Nuit", "steps": "dusk 100\ndawn 0"}
    )
    with read_session(engine) as session:
        program_id = session.scalars(select(LightProgram.id)).one()
    answer = staff.client.post_form(
        "/staff/lighting/groups/G1/program", {"program_id": str(program_id)}
    )
    assert answer.status_code == 303 and answer.headers["location"].endswith("done=program-6")
    with read_session(engine) as session:
        assert session.get(LightGroup, "G1").program_id == program_id
        assert {c.reason for c in session.scalars(select(LightCommand)).all()} == {"program"}
    assert (
        staff.client.post_form(
            "/staff/lighting/groups/G1/program", {"program_id": "999"}
        ).status_code
        == 400
    )


def test_an_alarm_can_be_acknowledged(engine, staff):
    lights = seed_lights(engine, 1)
    with write_session(engine) as session:
        session.add(LightAlarm(device_id=lights[0], kind="defectiveLamp"))
    page = staff.client.get("/staff/lighting/alarms")
    assert "Lampe défectueuse" in page.text
    with read_session(engine) as session:
        alarm_id = session.scalars(select(LightAlarm.id)).one()
    assert staff.client.post_form(f"/staff/lighting/alarms/{alarm_id}/ack", {}).status_code == 303
    with read_session(engine) as session:
        alarm = session.get(LightAlarm, alarm_id)
    assert alarm.acknowledged_by == staff.id and alarm.cleared_at is None


CSV = """id;lat;lon;group;group_name;cabinet;commune;street;technology;nominal_w
SL-X-1;49,4721;5,9551;G-X;Rue Haute;CAB-X;57038;Rue Haute;LED;52
SL-X-2;49.4722;5.9553;G-X;Rue Haute;CAB-X;57038;Rue Haute;hps;170
"""


def test_the_inventory_imports_from_csv_and_geojson(engine, staff):
    answer = staff.client.post(
        "/staff/lighting/import",
        files={"file": ("lights.csv", CSV.encode(), "text/csv")},
        data={"_csrf_token": staff.client.csrf_token()},
    )
    assert answer.status_code == 200 and "2 points créés" in answer.text
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "SL-X-2",
                "geometry": {"type": "Point", "coordinates": [5.96, 49.48]},
                "properties": {"group": "G-X", "technology": "LED", "nominal_w": 39},
            },
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [5.97, 49.49]},
                "properties": {"id": "SL-X-3", "group": "G-Y", "commune": "54580"},
            },
        ],
    }
    answer = staff.client.post(
        "/staff/lighting/import",
        data={"_csrf_token": staff.client.csrf_token()},
        files={"file": ("lights.geojson", json.dumps(geojson).encode(), "application/geo+json")},
    )
    assert answer.status_code == 200 and "1 points créés, 1 mis à jour" in answer.text
    with read_session(engine) as session:
        updated = session.get(Streetlight, "SL-X-2")
        assert (updated.technology, updated.nominal_w, updated.lon) == ("LED", 39.0, 5.96)
        assert session.get(LightGroup, "G-Y") is not None


def test_a_bad_inventory_line_stops_the_whole_import(engine, staff):
    bad = CSV + "SL-X-3;91;5.9;G-X;;;;;LED;70\n"
    answer = staff.client.post(
        "/staff/lighting/import",
        files={"file": ("lights.csv", bad.encode(), "text/csv")},
        data={"_csrf_token": staff.client.csrf_token()},
    )
    assert answer.status_code == 400 and "ligne 4" in answer.text and "lat" in answer.text
    assert _count(engine, Streetlight) == 0 and _count(engine, LightGroup) == 0


def test_eclor_lights_set_takes_the_same_path_as_the_staff_page(
    engine, settings, monkeypatch, capsys
):
    lights = seed_lights(engine, 7)
    monkeypatch.setenv("ECLOR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ECLOR_VAR_DIR", str(settings.var_dir))
    assert cli_main(["lights", "set", "--group", "G1", "--level", "20", "--minutes", "30"]) == 0
    assert "7 command(s) queued" in capsys.readouterr().out
    assert cli_main(["lights", "set", "--light", lights[0], "--level", "101"]) == 2
    assert "entre 0 et 100" in capsys.readouterr().err
    assert cli_main(["lights", "resume", "--group", "G1"]) == 0
    with read_session(engine) as session:
        assert sorted(session.scalars(select(LightOverride.state)).all()) == ["cancelled"]
        assert _count(engine, LightCommand) == 7
