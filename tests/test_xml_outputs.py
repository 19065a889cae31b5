"""Every XML Eclor writes (Open311 in all its forms, CAP export) stays well-formed whatever people typed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import select

from app import xmltext
from app.alerts import cap_read
from app.db import write_session
from app.models.push import Alert
from app.models.reports import Report
from app.reports import catalogue
from app.reports import workflow as rp

# Control characters (a vertical tab pasted from a word processor, NUL, escape), markup, a lone
# surrogate and a non-character: XML 1.0 can hold none of them raw.
HOSTILE = "Pneus\x0b<b>&amp;</b> \x00\x01\x08\x1b\x1f ]]> \"'\ud800\ufffe\uffff fin\x0c"
# What can reach the database: text typed in a form or sent by a partner (no lone surrogate, no NUL).
TYPED = HOSTILE.replace("\ud800", "").replace("\x00", "")
LAT, LON = 49.472345, 5.955678


def parse(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # raises on anything that is not well-formed


def test_the_xml_text_keeps_what_xml_can_hold_and_replaces_the_rest() -> None:
    for code in range(0x20):
        char = chr(code)
        element = parse(
            f'<a b="{xmltext.attribute(char)}">{xmltext.text(char)}</a>'.encode(
                "utf-8", "surrogatepass"
            )
        )
        assert (
            element.text in (char, "\n", "\ufffd") if char not in "\t\n\r" else element.text == char
        )
    assert parse(f"<a>{xmltext.text(HOSTILE)}</a>".encode()).text == (
        "Pneus\n<b>&amp;</b> \ufffd\ufffd\ufffd\ufffd\ufffd ]]> \"'\ufffd\ufffd\ufffd fin\n"
    )
    assert (
        parse(f'<a t="{xmltext.attribute(HOSTILE)}"/>'.encode()).get("t").startswith("Pneus\n<b>")
    )


@pytest.fixture
def hostile_report(engine: Any) -> Report:
    with write_session(engine) as session:
        report = Report(
            category="tyres",
            lat=LAT,
            lon=LON,
            commune_insee="57038",
            status="confirmed",
            description=TYPED,
            address=TYPED,
        )
        session.add(report)
        session.flush()
        return report


def test_open311_requests_in_xml_stay_well_formed_with_control_characters(
    client, hostile_report
) -> None:
    number = catalogue.number(hostile_report)
    for path in (
        "/open311/v2/requests.xml",
        f"/open311/v2/requests/{number}.xml",
        f"/open311/v2/requests.xml?service_request_id={number}",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        root = parse(response.content)
        descriptions = [r.findtext("description") for r in root]
        assert descriptions and all(d and d.startswith("Pneus\n<b>&amp;</b>") for d in descriptions)


def test_open311_errors_in_xml_stay_well_formed_when_they_repeat_what_was_sent(client) -> None:
    for path in (
        "/open311/v2/requests/%0B%3C%26.xml",
        "/open311/v2/services/%0B%26%3C.xml",
        "/open311/v2/tokens/%0B%3C.xml",
        "/open311/v2/requests.xml?status=%0B%3C%26",
        "/open311/v2/requests.xml?start_date=%0B%3C",
    ):
        response = client.get(path)
        assert response.status_code in (400, 404), path
        root = parse(response.content)
        assert root.tag == "errors" and root[0].findtext("description")


def test_a_partner_posting_hostile_text_gets_well_formed_xml_back_and_in_the_list(
    engine, client
) -> None:
    with write_session(engine) as session:
        _row, key = rp.issue_api_key(session, "Partenaire", None)
    response = client.post(
        "/open311/v2/requests.xml",
        data={
            "api_key": key,
            "service_code": "tyres",
            "lat": str(LAT),
            "long": str(LON),
            "description": TYPED,
            "first_name": TYPED[:20],
            "email": "partenaire@example.org",
        },
    )
    assert response.status_code == 201
    number = parse(response.content)[0].findtext("service_request_id")
    root = parse(client.get(f"/open311/v2/requests/{number}.xml").content)
    assert root[0].findtext("description").startswith("Pneus\n")
    for fmt in ("json", "xml"):
        parse(client.get("/open311/v2/discovery.xml").content)
        parse(client.get("/open311/v2/services.xml").content)
        assert client.get(f"/open311/v2/services/tyres.{fmt}").status_code == 200


def test_an_alert_with_control_characters_exports_as_well_formed_cap(staff, client, engine) -> None:
    form = {
        "title": "Route\x0bfermée <Thil> & Villerupt\x1b",
        "body": "Déviation\x01 par la D16\x0c; \ufffe ok",
        "topic": "traffic",
        "communes": ["54523"],
        "urgency": "normal",
        "expires": "",
        "link": "",
        "do": "send",
    }
    answer = staff.client.post_form("/staff/alerts/new", form)
    assert answer.status_code in (303, 400)
    with write_session(engine) as session:
        alert = session.scalars(select(Alert).order_by(Alert.id.desc())).first()
    if answer.status_code == 400:  # refused with a message: nothing was written, nothing to export
        assert alert is None
        return
    response = client.get(f"/alerts/{alert.id}.cap")
    assert response.status_code == 200
    parse(response.content)
    info = cap_read.parse(response.content).infos[0]
    assert info.headline.startswith("Route\nfermée <Thil> & Villerupt")
