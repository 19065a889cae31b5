"""Lighting programs staff can trust: a warning for a program that never switches off or lights at noon,
tonight's schedule with a June and a December night, and deletion only of an unused program."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.db import read_session, write_session
from app.lighting import checks
from app.lighting.programs import Position, Program
from app.models.lighting import LightCalendar, LightGroup, LightProgram
from tests.lighting_helpers import seed_lights

HERE = Position(49.47, 5.94, "Europe/Paris")


def count(engine) -> int:
    with read_session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(LightProgram)) or 0)


def test_a_program_that_never_switches_off_or_lights_at_noon_is_flagged() -> None:
    never_off = Program.from_dict(
        {"name": "Toujours", "steps": [{"at": "dusk", "level": 100}, {"at": "01:00", "level": 30}]}
    )
    noon = Program.from_dict(
        {
            "name": "Midi",
            "steps": [
                {"at": "dusk", "level": 100},
                {"at": "dawn", "level": 0},
                {"at": "11:30", "level": 60},
            ],
        }
    )
    usual = Program.from_dict(
        {"name": "Nuit", "steps": [{"at": "dusk", "level": 100}, {"at": "dawn", "level": 0}]}
    )
    assert any("n’éteint jamais" in w for w in checks.warnings(never_off, HERE, 2026))
    (warning,) = checks.warnings(noon, HERE, 2026)
    assert "à midi" in warning and "11:30 → 60 %" in warning
    assert checks.warnings(usual, HERE, 2026) == []


def test_the_editor_warns_and_saves_only_when_staff_confirm(engine, staff) -> None:
    form = {"name": "Toujours", "steps": "dusk 100\n01:00 30", "twilight_deg": "3"}
    warned = staff.client.post_form("/staff/lighting/programs/new", form)
    assert (
        warned.status_code == 400
        and "n’éteint jamais" in warned.text
        and "C’est voulu" in warned.text
    )
    assert count(engine) == 0
    saved = staff.client.post_form(
        "/staff/lighting/programs/new", {**form, "confirm_warnings": "true"}
    )
    assert saved.status_code == 303 and count(engine) == 1


def test_the_program_list_previews_tonight_a_june_night_and_a_december_night(engine, staff) -> None:
    staff.client.post_form(
        "/staff/lighting/programs/new", {"name": "Nuit", "steps": "dusk 100\n23:00 40\ndawn 0"}
    )
    page = staff.client.get("/staff/lighting/programs").text
    assert "Cette nuit" in page and "Nuit de juin (la plus courte)" in page
    assert "Nuit de décembre (la plus longue)" in page and "23:00 → 40 %" in page
    nights = checks.preview_nights(
        Program.from_dict(
            {"name": "N", "steps": [{"at": "dusk", "level": 100}, {"at": "dawn", "level": 0}]}
        ),
        HERE,
        __import__("datetime").date(2026, 12, 6),
    )
    (_t, _tonight, _s), (_j, june, june_steps), (_d, december, december_steps) = nights
    assert (june.month, june.day, december.month, december.day) == (
        6,
        21,
        12,
        21,
    ) and june.year == 2027
    june_on = june_steps[-1][0] - june_steps[0][0]
    december_on = december_steps[-1][0] - december_steps[0][0]
    assert (
        december_on.total_seconds() > june_on.total_seconds() + 6 * 3600
    )  # the long night is lit longer


def test_an_unused_program_is_deleted_and_one_in_use_is_kept_with_who_uses_it(
    engine, staff
) -> None:
    seed_lights(engine, 2)
    for name in ("Libre", "Utilisé", "Au calendrier"):
        staff.client.post_form(
            "/staff/lighting/programs/new", {"name": name, "steps": "dusk 100\ndawn 0"}
        )
    with write_session(engine) as session:
        ids = {p.name: p.id for p in session.scalars(select(LightProgram))}
        session.get(LightGroup, "G1").program_id = ids["Utilisé"]
        session.add(
            LightCalendar(
                name="Année", definition=json.dumps({"default": "Au calendrier", "rules": []})
            )
        )
    assert (
        staff.client.post_form(f"/staff/lighting/programs/{ids['Libre']}/delete").status_code == 303
    )
    in_use = staff.client.post_form(f"/staff/lighting/programs/{ids['Utilisé']}/delete")
    assert in_use.status_code == 409 and "est utilisé" in in_use.text and "groupe" in in_use.text
    in_calendar = staff.client.post_form(f"/staff/lighting/programs/{ids['Au calendrier']}/delete")
    assert in_calendar.status_code == 409 and "calendrier « Année »" in in_calendar.text
    with read_session(engine) as session:
        assert sorted(session.scalars(select(LightProgram.name))) == ["Au calendrier", "Utilisé"]
