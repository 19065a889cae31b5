"""The renovation guide on an install of several territories: a local aid belongs to the territory
whose staff wrote it, an appointment request (a resident's case) to the territory whose host it was
made on; a host's guide applies the national rules and its own aids, and its staff see and act on
their own aids and requests only."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, col, select

from app.db import read_session, utcnow, write_session
from app.models.accounts import User
from app.models.renovation import AidRule, Appointment
from app.renovation import rules
from tests.territory_sweep import domain_routes
from tests.territory_sweep import refused as is_refused
from tests.test_renovation import LOCAL_AID, MINER_HOUSE
from tests.test_territories import ESCH
from tests.test_territory_reports import add_minett

B_AID = "Prime du Minett pour les façades"
B_NAME = "Marie Lallange"
B_COMMUNES = ("Esch-sur-Alzette", "Rumelange")
MARKERS = (B_AID, B_NAME, *B_COMMUNES)
DOMAIN = "/renovation"
# Writes no path parameter names a row of: a new aid, the questionnaire, a new request (made in
# the host's territory, checked below).
UNNAMED_WRITES = {"/renovation/staff/aids", "/renovation/questions", "/renovation/appointments"}
ESCH_HOUSE = {**MINER_HOUSE, "commune": "L0204"}


@pytest.fixture
def two(app, engine) -> dict[str, Any]:
    """The national rules; in the Minett, a local aid for every house with new walls (any commune)
    and a resident's request."""
    minett = add_minett(engine)
    with write_session(engine) as s:
        rules.load_file(s, rules.NATIONAL_FILE)
        aid = AidRule(
            key="local-minett",
            year=2026,
            scope="local",
            program="local",
            title=B_AID,
            calc="fixed",
            amount=1500,
            works="isolation_murs_ext",
            source_url="https://www.esch.lu/facades",
            territory_id=minett,
        )
        request = Appointment(
            name=B_NAME,
            phone="+352 27 54 00 00",
            commune_insee="L0204",
            summary="Maison de 1925 à Esch",
            consent_at=utcnow(),
            territory_id=minett,
        )
        s.add_all([aid, request])
        s.flush()
        ids = {"rule_id": aid.id, "appointment_id": request.id}
    return {"minett": minett, "b": ids}


def _fill(path: str, two: dict[str, Any]) -> list[str]:
    params = re.findall(r"\{(\w+):\w+\}", path)
    url = path
    for name in params:
        if name not in two["b"]:
            raise AssertionError(f"{path}: a renovation route whose {name} has no sample")
        url = re.sub(r"\{" + name + r":\w+\}", str(two["b"][name]), url)
    return [url]


def _leaks(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


def _state(engine) -> list[Any]:
    with Session(engine) as s:
        return [
            (r.id, r.title, r.active, r.territory_id)
            for r in s.scalars(select(AidRule).where(col(AidRule.scope) == "local"))
        ] + [(a.id, a.status, a.staff_note, a.territory_id) for a in s.scalars(select(Appointment))]


@pytest.mark.parametrize("who", ["staff", "resident", None])
def test_sweeping_every_renovation_route_on_one_territorys_host_finds_nothing_of_the_other(
    app, engine, client, two, personas, who
):
    """As the first territory's staff, a resident, and anonymously."""
    c = personas[who].client if who else client
    routes = domain_routes(app, DOMAIN)
    assert ("POST", "/renovation/staff/appointments/{appointment_id:int}/status") in routes
    before = _state(engine)
    read = refused = 0
    for method, path in routes:
        if "{" not in path:
            if method == "GET":
                for url in (path, f"{path}?status=new"):
                    answer = c.get(url, follow_redirects=False)
                    assert answer.status_code < 500, (url, answer.status_code)
                    assert not _leaks(answer.text), (url, _leaks(answer.text))
                    read += 1
            else:
                assert path in UNNAMED_WRITES, f"{path}: a write this sweep has no sample for"
            continue
        for url in _fill(path, two):
            answer = (
                c.get(url, follow_redirects=False)
                if method == "GET"
                else c.post_form(url, {"active": "no", "status": "done", "note": "x"})
            )
            assert is_refused(answer), (method, url, answer.status_code)
            assert not _leaks(answer.text), (url, _leaks(answer.text))
            refused += 1
    # The questionnaire on this host: its own communes only, and never the Minett's aid.
    answer = c.post_form("/renovation/questions", ESCH_HOUSE)
    assert answer.status_code == 400 and "Choisissez une commune du territoire" in answer.text
    answer = c.post_form("/renovation/questions", {**MINER_HOUSE, "cost": "18000"})
    assert answer.status_code == 200 and "pompe à chaleur" in answer.text
    assert not _leaks(answer.text)
    assert read >= 5 and refused >= 2
    assert _state(engine) == before


def test_staff_write_local_aids_for_their_own_territory(engine, two, staff):
    answer = staff.client.post_form("/renovation/staff/aids", {**LOCAL_AID, "communes": "L0204"})
    assert answer.status_code == 400 and "Choisissez des communes du territoire" in answer.text
    assert staff.client.post_form("/renovation/staff/aids", LOCAL_AID).status_code == 303
    with read_session(engine) as s:
        made = s.scalars(select(AidRule).where(col(AidRule.title) == LOCAL_AID["title"])).one()
        assert made.territory_id == 1
    # On the Minett's host, the first territory's aid is not offered.
    here = "Prime Villerupt"
    assert here not in staff.client.get("/renovation/rules", headers=ESCH).text


def test_a_residents_request_sits_in_the_territory_where_it_was_made(engine, client, two, personas):
    sent = client.post_form(
        "/renovation/appointments",
        {
            **ESCH_HOUSE,
            "name": "Paul Kayser",
            "phone": "+352 26 00 00 00",
            "slots": "morning",
            "consent": "yes",
        },
        headers=ESCH,
    )
    assert sent.status_code == 303, sent.text
    with read_session(engine) as s:
        row = s.scalars(select(Appointment).where(col(Appointment.name) == "Paul Kayser")).one()
        assert (row.territory_id, row.commune_insee) == (two["minett"], "L0204")
        assert B_AID in row.summary  # the Minett's guide applied the Minett's aid
    staff = personas["staff"]
    assert "Paul Kayser" not in staff.client.get("/renovation/staff/appointments").text
    with write_session(engine) as s:
        user = s.get(User, staff.id)
        assert user is not None
        user.territory_id = two["minett"]
    listing = staff.client.get("/renovation/staff/appointments", headers=ESCH).text
    assert "Paul Kayser" in listing and B_NAME in listing
    answer = staff.client.post_form(
        f"/renovation/staff/appointments/{row.id}/status",
        {"status": "called", "note": "Rappelé"},
        headers=ESCH,
    )
    assert answer.status_code == 303
    page = staff.client.get("/renovation/staff", headers=ESCH).text
    assert B_AID in page and "Rumelange" in page
