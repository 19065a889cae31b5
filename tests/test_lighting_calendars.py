"""The lighting calendar editor is a form (weekday names, date ranges, programs from a list, an
error next to each field), programs can be archived, and a renamed program keeps its calendars."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from app.db import read_session, write_session
from app.lighting import control
from app.models.lighting import LightCalendar, LightGroup, LightProgram
from tests.lighting_helpers import seed_lights


def _programs(engine, staff, *names: str) -> dict[str, int]:
    for name in names:
        answer = staff.client.post_form(
            "/staff/lighting/programs/new", {"name": name, "steps": "dusk 100\ndawn 0"}
        )
        assert answer.status_code == 303, answer.text
    return _ids(engine)


def _ids(engine) -> dict[str, int]:
    with read_session(engine) as session:
        return {p.name: p.id for p in session.scalars(select(LightProgram))}


def _calendars(engine) -> dict[str, dict]:
    with read_session(engine) as session:
        return {c.name: json.loads(c.definition) for c in session.scalars(select(LightCalendar))}


def _options(html: str, select_id: str) -> list[str]:
    found = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert found, f"no select {select_id}"
    return [label.strip() for label in re.findall(r"<option[^>]*>([^<]*)</option>", found.group(1))]


def test_the_editor_names_the_weekdays_and_offers_the_programs_as_a_list(engine, staff):
    _programs(engine, staff, "Semaine", "Week-end")
    page = staff.client.get("/staff/lighting/calendars/new")
    assert page.status_code == 200
    assert 'name="definition"' not in page.text  # no JSON box
    days = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
    for number, day in enumerate(days):
        assert f'name="rules-0-weekdays" value="{number}"> {day}</label>' in page.text
    assert _options(page.text, "default") == ["Semaine", "Week-end"]
    assert _options(page.text, "rules-0-program") == ["— choisir —", "Semaine", "Week-end"]
    assert 'type="date"' in page.text
    english = staff.client.get("/staff/lighting/calendars/new", headers={"accept-language": "en"})
    assert 'value="5"> Saturday</label>' in english.text


def test_a_calendar_is_saved_from_the_form_and_said_in_words(engine, staff):
    ids = _programs(engine, staff, "Semaine", "Week-end", "Fêtes")
    answer = staff.client.post_form(
        "/staff/lighting/calendars/new",
        {
            "name": "Année",
            "default": str(ids["Semaine"]),
            "rule_count": "3",
            "rules-0-program": str(ids["Week-end"]),
            "rules-0-weekdays": ["5", "6"],
            "rules-0-priority": "0",
            "rules-1-label": "Fêtes de fin d’année",
            "rules-1-program": str(ids["Fêtes"]),
            "rules-1-start": "2026-12-24",
            "rules-1-end": "2027-01-01",
            "rules-1-yearly": "1",
            "rules-1-priority": "10",
            "rules-2-program": "",  # the blank row left empty
            "rules-2-priority": "0",
        },
    )
    assert answer.status_code == 303, answer.text
    assert _calendars(engine)["Année"] == {
        "version": 1,
        "default": "Semaine",
        "rules": [
            {"program": "Week-end", "weekdays": [5, 6], "priority": 0},
            {
                "program": "Fêtes",
                "start": "12-24",
                "end": "01-01",
                "yearly": True,
                "priority": 10,
                "label": "Fêtes de fin d’année",
            },
        ],
    }
    listing = staff.client.get("/staff/lighting/programs").text
    assert "samedi, dimanche : Week-end" in listing
    assert "du 24 décembre au 1 janvier chaque année : Fêtes" in listing
    assert "les autres nuits : Semaine" in listing
    with read_session(engine) as session:
        calendar_id = session.scalars(select(LightCalendar.id)).one()
    edit = staff.client.get(f"/staff/lighting/calendars/{calendar_id}").text
    assert re.search(r'name="rules-0-weekdays" value="5" checked', edit)
    assert not re.search(r'name="rules-0-weekdays" value="0" checked', edit)
    assert re.search(
        r'id="rules-1-start" name="rules-1-start" type="date" value="\d{4}-12-24"', edit
    )
    assert re.search(r'name="rules-1-yearly" value="1" checked', edit)
    assert _options(edit, "rules-2-program")[0] == "— choisir —"  # a blank row for a new rule


def test_each_error_is_written_next_to_its_field_and_nothing_is_saved(engine, staff):
    ids = _programs(engine, staff, "Semaine")
    base = {"name": "Année", "default": str(ids["Semaine"]), "rule_count": "1"}
    cases = [
        ({"rules-0-program": str(ids["Semaine"])}, "rules-0-weekdays", "Cochez des jours"),
        (
            {
                "rules-0-program": str(ids["Semaine"]),
                "rules-0-start": "2026-05-10",
                "rules-0-end": "2026-05-01",
            },
            "rules-0-end",
            "précède son début",
        ),
        (
            {
                "rules-0-program": str(ids["Semaine"]),
                "rules-0-start": "32/13/2026",
                "rules-0-end": "2026-05-01",
            },
            "rules-0-start",
            "Date invalide",
        ),
        (
            {"rules-0-program": str(ids["Semaine"]), "rules-0-start": "2026-05-01"},
            "rules-0-end",
            "les deux dates",
        ),
        ({"rules-0-program": "999", "rules-0-weekdays": "1"}, "rules-0-program", "dans la liste"),
        (
            {
                "rules-0-program": str(ids["Semaine"]),
                "rules-0-weekdays": "1",
                "rules-0-priority": "haute",
            },
            "rules-0-priority",
            "nombre entier",
        ),
        ({"default": "", "rules-0-weekdays": "1"}, "default", "dans la liste"),
    ]
    for extra, field, message in cases:
        answer = staff.client.post_form("/staff/lighting/calendars/new", {**base, **extra})
        assert answer.status_code == 400, (extra, answer.status_code)
        error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', answer.text)
        assert error and message in error.group(1), (extra, field)
        assert f'href="#{field}"' in answer.text  # the summary links to the field
        assert f'id="{field}"' in answer.text
    assert _calendars(engine) == {}
    # What was typed comes back as it was.
    assert (
        'value="32/13/2026"'
        in staff.client.post_form("/staff/lighting/calendars/new", {**base, **cases[2][0]}).text
    )


def test_add_a_rule_shows_one_more_row_and_saves_nothing(engine, staff):
    ids = _programs(engine, staff, "Semaine")
    answer = staff.client.post_form(
        "/staff/lighting/calendars/new",
        {
            "name": "Année",
            "default": str(ids["Semaine"]),
            "rule_count": "1",
            "rules-0-program": str(ids["Semaine"]),
            "rules-0-weekdays": "4",
            "add_rule": "1",
        },
    )
    assert answer.status_code == 200
    assert 'name="rules-1-program"' in answer.text and 'name="rules-2-program"' not in answer.text
    assert 'name="rules-0-weekdays" value="4" checked' in answer.text
    assert _calendars(engine) == {}
    removed = staff.client.post_form(
        "/staff/lighting/calendars/new",
        {
            "name": "Année",
            "default": str(ids["Semaine"]),
            "rule_count": "1",
            "rules-0-program": str(ids["Semaine"]),
            "rules-0-weekdays": "4",
            "rules-0-remove": "1",
        },
    )
    assert removed.status_code == 303 and _calendars(engine)["Année"]["rules"] == []


def test_an_archived_program_is_no_longer_offered_and_its_users_keep_it_and_are_flagged(
    engine, staff
):
    seed_lights(engine, 2)
    seed_lights(engine, 2, group="G2", prefix="SL-U-")
    ids = _programs(engine, staff, "Ancien", "Nouveau")
    staff.client.post_form(
        "/staff/lighting/calendars/new",
        {
            "name": "Année",
            "default": str(ids["Nouveau"]),
            "rule_count": "1",
            "rules-0-program": str(ids["Ancien"]),
            "rules-0-weekdays": ["0", "1", "2", "3", "4", "5", "6"],
        },
    )
    with write_session(engine) as session:
        calendar_id = session.scalars(select(LightCalendar.id)).one()
        groups = session.scalars(select(LightGroup).order_by(LightGroup.id)).all()
        groups[0].program_id = ids["Ancien"]
        first, other = groups[0].id, groups[1].id
    assert (
        staff.client.post_form(f"/staff/lighting/programs/{ids['Ancien']}/archive").status_code
        == 303
    )

    listing = staff.client.get("/staff/lighting/programs").text
    archived = listing[listing.index('id="archived-programs"') :]
    assert "Ancien" in archived and f"groupe « Groupe {first} »" in archived
    assert "Encore utilisé" in archived and "calendrier « Année »" in archived
    assert "À revoir : utilise un programme archivé (Ancien)" in listing
    # Not offered to a new calendar nor to another group.
    assert _options(staff.client.get("/staff/lighting/calendars/new").text, "default") == [
        "Nouveau"
    ]
    assert "Ancien" not in " ".join(
        _options(staff.client.get(f"/staff/lighting/groups/{other}").text, "program_id")
    )
    refused = staff.client.post_form(
        "/staff/lighting/calendars/new",
        {"name": "Autre", "default": str(ids["Ancien"]), "rule_count": "0"},
    )
    assert (
        refused.status_code == 400
        and "archivé" in refused.text
        and "Autre" not in _calendars(engine)
    )
    group = staff.client.post_form(
        f"/staff/lighting/groups/{other}/program", {"program_id": str(ids["Ancien"])}
    )
    assert group.status_code == 400 and "archivé" in group.text
    # Those that use it keep it: offered (marked) where already chosen, saved unchanged, still run.
    mine = staff.client.get(f"/staff/lighting/groups/{first}").text
    assert "Ancien (archivé)" in _options(mine, "program_id")
    edit = staff.client.get(f"/staff/lighting/calendars/{calendar_id}").text
    assert "Ancien (archivé)" in _options(edit, "rules-0-program")
    resave = staff.client.post_form(
        f"/staff/lighting/calendars/{calendar_id}",
        {
            "name": "Année 2",
            "default": str(ids["Nouveau"]),
            "rule_count": "1",
            "rules-0-program": str(ids["Ancien"]),
            "rules-0-weekdays": ["0", "1", "2", "3", "4", "5", "6"],
        },
    )
    assert (
        resave.status_code == 303
        and _calendars(engine)["Année 2"]["rules"][0]["program"] == "Ancien"
    )
    with read_session(engine) as session:
        row = session.get(LightCalendar, calendar_id)
        source = control.load_calendar(session, row)
    assert source.rules[0].program_id == "Ancien"
    # Restored: offered again.
    assert (
        staff.client.post_form(f"/staff/lighting/programs/{ids['Ancien']}/restore").status_code
        == 303
    )
    assert "Ancien" in _options(staff.client.get("/staff/lighting/calendars/new").text, "default")


def test_a_renamed_program_keeps_its_calendars_working(engine, staff):
    seed_lights(engine, 3)
    ids = _programs(engine, staff, "Nuit")
    staff.client.post_form(
        "/staff/lighting/calendars/new",
        {
            "name": "Année",
            "default": str(ids["Nuit"]),
            "rule_count": "1",
            "rules-0-program": str(ids["Nuit"]),
            "rules-0-weekdays": "5",
        },
    )
    with write_session(engine) as session:
        calendar_id = session.scalars(select(LightCalendar.id)).one()
        session.get(LightGroup, "G1").calendar_id = calendar_id
    renamed = staff.client.post_form(
        f"/staff/lighting/programs/{ids['Nuit']}",
        {"name": "Nuit complète", "steps": "dusk 80\ndawn 0"},
    )
    assert renamed.status_code == 303, renamed.text
    assert _calendars(engine)["Année"]["default"] == "Nuit complète"
    assert _calendars(engine)["Année"]["rules"][0]["program"] == "Nuit complète"
    with read_session(engine) as session:
        calendar = control.load_calendar(session, session.get(LightCalendar, calendar_id))
    assert calendar.programs["Nuit complète"].steps[0].level == 80
    assert staff.client.get("/staff/lighting/groups/G1").status_code == 200
