"""Bodies nested inside a territory: a report goes to the most deeply nested body covering its
commune and its category, staff hand it to another body of the territory (and the reporter is
told), the board lists a body's reports with those of the bodies inside it, Open311 names the
body responsible, and a territory's settings declare bodies that are checked before anything is
written."""

from __future__ import annotations

import asyncio
import copy
import email
import email.policy
import json

import pytest
from sqlmodel import Session, col, select

from app import bodies, territory_demo
from app.db import write_session
from app.models.accounts import User
from app.models.jobs import Job
from app.models.reports import Report, ReportEvent
from app.models.territory import Body, Territory
from app.territory_setup import SetupError, create
from workers import runner
from tests.test_territory_reports import (  # noqa: F401  (two: a fixture)
    AUDUN,
    ESCH,
    ESCH_CENTRE,
    submit,
    two,
)

HYGIENE = "Service Hygiène de la Ville d’Esch-sur-Alzette"
ESCH_TOWN = "Ville d’Esch-sur-Alzette"
KAYL = "Commune de Kayl"


@pytest.fixture
def minett_staff(engine, two, personas):
    """A staff member of the Minett (the second of the two territories)."""
    persona = personas["elected"]
    with write_session(engine) as session:
        user = session.get(User, persona.id)
        assert user is not None
        user.role, user.territory_id = "staff", two["minett"]
    return persona


def _body_ids(engine) -> dict[str, int]:
    with Session(engine) as session:
        return {b.name: int(b.id or 0) for b in session.scalars(select(Body))}


def _report(engine, report_id: int) -> Report:
    with Session(engine) as session:
        report = session.get(Report, report_id)
        assert report is not None
        return report


def test_a_report_goes_to_the_most_deeply_nested_body_covering_its_commune_and_category(
    engine, two
):
    ids = _body_ids(engine)
    # The web reports at Esch are bulky items: Esch's cleanliness service, inside the town.
    web = [_report(engine, i) for i in two["b_ids"][:2]]
    assert {r.body_id for r in web} == {ids[HYGIENE]}
    # The Open311 one is tyres, which the service does not handle: the town itself.
    assert _report(engine, two["b_ids"][2]).body_id == ids[ESCH_TOWN]
    # The first territory declares no body: its reports stay with the territory.
    assert {_report(engine, i).body_id for i in two["a_ids"]} == {None}
    with Session(engine) as session:
        minett = two["minett"]
        assert bodies.responsible(session, minett, "L0206", "hazardous").name == KAYL
        assert bodies.responsible(session, minett, "L0204", "green_waste").name == ESCH_TOWN
        assert bodies.responsible(session, minett, "L0204", "household_waste").name == HYGIENE
        assert bodies.responsible(session, 1, "57038", "bulky_items") is None


def test_the_public_page_says_which_body_handles_the_report(client, two):
    page = client.get(f"/reports/{two['b_ids'][0]}", headers=ESCH)
    assert page.status_code == 200
    assert "Traité par" in page.text and HYGIENE in page.text
    first = client.get(f"/reports/{two['a_ids'][0]}")
    assert "Communauté de communes du Pays-Haut" in first.text


def test_changing_the_category_sends_the_report_to_the_body_now_responsible(
    engine, two, minett_staff
):
    report_id = two["b_ids"][0]
    answer = minett_staff.client.post_form(
        f"/staff/reports/{report_id}/category", {"category": "green_waste"}, headers=ESCH
    )
    assert answer.status_code == 303, answer.text
    assert _report(engine, report_id).body_id == _body_ids(engine)[ESCH_TOWN]
    with Session(engine) as session:
        event = session.scalars(
            select(ReportEvent).where(
                col(ReportEvent.report_id) == report_id, col(ReportEvent.kind) == "category"
            )
        ).one()
        assert f"Transmis à : {ESCH_TOWN}." in event.text


def test_staff_hand_a_report_to_another_body_and_the_reporter_is_told(
    engine, two, minett_staff, personas
):
    report_id = two["b_ids"][1]
    ids = _body_ids(engine)
    staff_page = minett_staff.client.get(f"/staff/reports/{report_id}", headers=ESCH)
    assert staff_page.status_code == 200
    assert 'action="/staff/reports/%d/body"' % report_id in staff_page.text
    assert f'<option value="{ids[HYGIENE]}" selected>— {HYGIENE}' in staff_page.text

    answer = minett_staff.client.post_form(
        f"/staff/reports/{report_id}/body", {"body": str(ids[KAYL])}, headers=ESCH
    )
    assert answer.status_code == 303, answer.text
    assert _report(engine, report_id).body_id == ids[KAYL]
    with Session(engine) as session:
        told = session.scalars(select(Job).where(col(Job.kind) == "notify.user")).all()
        titles = [json.loads(j.payload)["title"] for j in told]
        assert any(KAYL in t and "transmis" in t for t in titles), titles
    public = personas["resident"].client.get(f"/reports/{report_id}", headers=ESCH)
    assert f"Transmis à : {KAYL}." in public.text

    # Back to the territory itself (empty choice).
    answer = minett_staff.client.post_form(
        f"/staff/reports/{report_id}/body", {"body": ""}, headers=ESCH
    )
    assert answer.status_code == 303
    assert _report(engine, report_id).body_id is None


@pytest.mark.parametrize("value", ["999999", "abc", "-1", "1e3"])
def test_a_body_of_no_use_here_is_refused_and_nothing_changes(engine, two, minett_staff, value):
    report_id = two["b_ids"][0]
    before = _report(engine, report_id).body_id
    answer = minett_staff.client.post_form(
        f"/staff/reports/{report_id}/body", {"body": value}, headers=ESCH
    )
    assert answer.status_code == 400
    assert "Organisme inconnu sur ce territoire." in answer.text
    assert _report(engine, report_id).body_id == before


def test_another_territorys_body_is_refused(engine, two, minett_staff):
    with write_session(engine) as session:
        session.add(Body(territory_id=1, name="Mairie d’Audun-le-Tiche", communes=["57038"]))
    audun_body = _body_ids(engine)["Mairie d’Audun-le-Tiche"]
    report_id = two["b_ids"][0]
    answer = minett_staff.client.post_form(
        f"/staff/reports/{report_id}/body", {"body": str(audun_body)}, headers=ESCH
    )
    assert answer.status_code == 400
    assert _report(engine, report_id).body_id == _body_ids(engine)[HYGIENE]


def test_the_board_lists_a_bodys_reports_with_those_of_the_bodies_nested_in_it(
    engine, two, minett_staff
):
    ids = _body_ids(engine)
    numbers = dict(zip(two["b_ids"], two["b_numbers"], strict=True))
    web, o311 = two["b_ids"][:2], two["b_ids"][2]

    def listed(body: str) -> set[int]:
        page = minett_staff.client.get(f"/staff/reports?body={body}", headers=ESCH)
        assert page.status_code == 200
        return {i for i, n in numbers.items() if n in page.text}

    assert listed(str(ids[ESCH_TOWN])) == {*web, o311}  # the town and its service
    assert listed(str(ids[HYGIENE])) == set(web)
    assert listed(str(ids[KAYL])) == set()
    assert listed("not-a-number") == {*web, o311}  # ignored: every report
    board = minett_staff.client.get("/staff/reports", headers=ESCH).text
    assert f'<option value="{ids[HYGIENE]}">— {HYGIENE}</option>' in board


def test_a_report_made_on_the_form_at_esch_goes_to_the_cleanliness_service(engine, two, personas):
    answer = submit(personas["resident"].client, "key-body-0001", *ESCH_CENTRE, headers=ESCH)
    assert answer.status_code == 303
    report_id = int(answer.headers["location"].split("/")[2].split("?")[0])
    assert _report(engine, report_id).body_id == _body_ids(engine)[HYGIENE]
    # The first territory's form, at Audun: no body, the territory.
    answer = submit(personas["resident"].client, "key-body-0002", *AUDUN)
    report_id = int(answer.headers["location"].split("/")[2].split("?")[0])
    assert _report(engine, report_id).body_id is None


# --------------------------------------------------------------------------- declaring bodies


def _settings(bodies_declared) -> dict:
    settings = copy.deepcopy(territory_demo.SETTINGS)
    settings["bodies"] = bodies_declared
    return settings


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ("Esch", "« bodies » doit être une liste"),
        ([{"name": ""}], "nom manquant"),
        ([{"name": "A"}, {"name": "A"}], "déclaré deux fois"),
        ([{"name": "B", "parent": "A"}, {"name": "A"}], "doit être déclaré avant lui"),
        ([{"name": "A", "communes": ["LU9999"]}], "commune inconnue du territoire : LU9999"),
        ([{"name": "A", "communes": ["57038"]}], "commune inconnue du territoire : 57038"),
        ([{"name": "A", "categories": ["potholes"]}], "catégorie inconnue : potholes"),
        (
            [
                {"name": "A", "communes": ["LU0204"]},
                {"name": "B", "parent": "A", "communes": ["LU0206"]},
            ],
            "des communes que son parent ne couvre pas",
        ),
        (
            [
                {"name": "A", "categories": ["tyres"]},
                {"name": "B", "parent": "A", "categories": ["rubble"]},
            ],
            "des catégories que son parent ne traite pas",
        ),
        ([{"name": "A", "contact_email": "pas-une-adresse"}], "adresse de contact invalide"),
        ([{"name": "A", "communes": "LU0204"}], "doit être une liste de codes"),
    ],
)
def test_bad_bodies_in_a_territorys_settings_are_refused_in_french_and_nothing_is_written(
    engine, declared, message
):
    with pytest.raises(SetupError, match=message):
        with write_session(engine) as session:
            create(session, _settings(declared), territory_demo.COMMUNES)
    with Session(engine) as session:
        assert not session.scalars(select(Territory).where(col(Territory.slug) == "minett")).all()
        assert not session.scalars(select(Body)).all()


def test_communes_are_named_by_their_official_code_or_their_key(engine):
    declared = [
        {"name": "Esch", "communes": ["LU0204"]},
        {"name": "Kayl", "communes": ["L0206"]},
    ]
    with write_session(engine) as session:
        create(session, _settings(declared), territory_demo.COMMUNES)
    with Session(engine) as session:
        assert {b.name: b.communes for b in session.scalars(select(Body))} == {
            "Esch": ["L0204"],
            "Kayl": ["L0206"],
        }


# --------------------------------------------------------------------------- the body's e-mail


def _run_worker(settings, engine) -> None:
    asyncio.run(runner.run(settings, engine, once=True, install_signals=False, services=False))


def _mails(settings) -> list[email.message.EmailMessage]:
    folder = settings.mail_dir
    return (
        [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(folder.glob("*.eml"))
        ]
        if folder.exists()
        else []
    )


def test_a_body_with_an_address_gets_the_report_by_e_mail_with_its_staff_page(
    engine, settings, two, minett_staff
):
    _run_worker(settings, engine)
    mails = [m for m in _mails(settings) if m["To"] == "hygiene@minett.example"]
    # The two web reports at Esch reached its cleanliness service; the town (no address) got none.
    assert len(mails) == 2, [m["To"] for m in _mails(settings)]
    numbers = {n for n in two["b_numbers"] if any(n in m["Subject"] for m in mails)}
    assert numbers == set(two["b_numbers"][:2])
    first = next(m for m in mails if two["b_numbers"][0] in m["Subject"])
    assert HYGIENE in first["Subject"] and "Encombrants à Esch-sur-Alzette" in first["Subject"]
    assert first["From"] == territory_demo.SETTINGS["mail_sender"]
    text = first.get_content()
    assert f"http://esch.localhost/staff/reports/{two['b_ids'][0]}" in text
    assert "Dépôt-du-Minett-seulement" in text

    # Handed to Kayl (no address) and back to the service: one more message, not three.
    for target in (KAYL, HYGIENE):
        answer = minett_staff.client.post_form(
            f"/staff/reports/{two['b_ids'][0]}/body",
            {"body": str(_body_ids(engine)[target])},
            headers=ESCH,
        )
        assert answer.status_code == 303
    _run_worker(settings, engine)
    assert len([m for m in _mails(settings) if m["To"] == "hygiene@minett.example"]) == 3


def test_a_report_handed_elsewhere_before_the_worker_runs_is_not_sent_to_its_former_body(
    engine, settings, two, minett_staff
):
    # Before any worker pass, the second report leaves the service for Kayl.
    answer = minett_staff.client.post_form(
        f"/staff/reports/{two['b_ids'][1]}/body",
        {"body": str(_body_ids(engine)[KAYL])},
        headers=ESCH,
    )
    assert answer.status_code == 303
    _run_worker(settings, engine)
    subjects = [m["Subject"] for m in _mails(settings) if m["To"] == "hygiene@minett.example"]
    assert len(subjects) == 1 and two["b_numbers"][0] in subjects[0]
