"""CAP as national services send it, and CAP as Eclor exports it, checked against the CAP 1.2 XSD.

The messages under ``tests/data/cap/feeds/`` are written the way MeteoAlarm, Météo-France and a
prefecture write them: several ``info`` languages, a Cancel without ``info``, NUTS 2013 and NUTS 2
codes, INSEE codes under ``CODE_INSEE``, a document in ISO-8859-1. Each outcome is checked: what
is published, to which communes, what is recorded and ignored, what is refused and why.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
import xmlschema
from sqlmodel import select

from app.alerts import cap_alerts, cap_areas, topics
from app.alerts.cap import CapArea, CapValue
from app.db import write_session
from app.models.jobs import Job
from app.models.push import Alert, CapIgnored
from tests.test_alerts import FORM, count, latest

FEEDS = Path(__file__).parent / "data" / "cap" / "feeds"
XSD = Path(__file__).resolve().parents[2] / "shared" / "standards" / "cap" / "CAP-v1.2.xsd"
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
MOSELLE = ["57038", "57041", "57097", "57529", "57565", "57602"]
TERRITORY = ["54523", "54580", *MOSELLE]


def feed(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


@pytest.fixture(scope="module")
def cap_schema() -> xmlschema.XMLSchema:
    if not XSD.exists():  # the standards sit beside the repository (shared/standards)
        pytest.fail(f"CAP 1.2 XSD not found at {XSD}")
    return xmlschema.XMLSchema(str(XSD))


def run_cli(settings, *argv: str) -> int:
    from app import domains
    from app.cli import build_parser

    (run,) = [c.run for c in domains.commands() if c.name == "alert"]
    return run(build_parser().parse_args(["alert", *argv]), settings)


def test_a_trilingual_meteoalarm_warning_is_published_in_french_to_moselle_by_its_nuts_2013_code(
    engine,
) -> None:
    with write_session(engine) as session:
        alert = cap_alerts.import_cap(session, feed("meteoalarm_trilingue_nuts2013.xml"))
        assert isinstance(alert, Alert)
        facts = (alert.title, alert.instruction, alert.topic, alert.push_urgency)
        communes = topics.unpack(alert.communes)
    assert facts == (
        "Vigilance orange vent violent : Moselle",
        "Rentrez les objets susceptibles d'être emportés.",
        "weather",
        "normal",  # Future + Severe
    )
    assert communes == MOSELLE  # FR413 is Moselle in NUTS 2013: not Thil nor Villerupt (54)
    assert count(engine, Job) == 1


def test_a_cancel_without_info_ends_the_alert_it_references_and_tells_the_same_people(
    engine, client
) -> None:
    with write_session(engine) as session:
        first = cap_alerts.import_cap(session, feed("meteoalarm_trilingue_nuts2013.xml"))
        cancel = cap_alerts.import_cap(session, feed("meteoalarm_annulation_sans_info.xml"))
        assert isinstance(first, Alert) and isinstance(cancel, Alert)
        session.refresh(first)
        facts = (
            cancel.msg_type,
            cancel.state,
            cancel.thread_id,
            cancel.references_id,
            cancel.communes,
            cancel.title,
            cancel.body,
            first.state,
        )
        first_id, cancel_id, communes = first.id, cancel.id, first.communes
    assert facts == (
        "Cancel",
        "cancelled",
        first_id,
        first_id,
        communes,
        "Vigilance orange vent violent : Moselle",
        "Fin de vigilance vent violent sur la Moselle.",  # the message's note
        "cancelled",
    )
    assert count(engine, Job) == 2  # the warning's fan-out and the cancel's
    assert "Fin de vigilance vent violent" in client.get(f"/alerts/{cancel_id}").text
    with write_session(engine) as session:
        from app.alerts.publish import active_alerts

        assert active_alerts(session) == []
    assert client.get(f"/alerts/{cancel_id}.cap").content == feed(
        "meteoalarm_annulation_sans_info.xml"
    )


def test_a_cancel_of_an_alert_never_seen_is_recorded_and_ignored(staff, engine) -> None:
    document = feed("annulation_alerte_inconnue.xml")
    preview = staff.client.post_form("/staff/alerts/import", {"xml": document.decode()})
    assert preview.status_code == 200
    assert "jamais reçue" in preview.text and "Enregistrer ce message" in preview.text
    assert count(engine, CapIgnored) == 0  # the preview writes nothing
    sent = staff.client.post(
        "/staff/alerts/import",
        files={"file": ("annulation.xml", document, "application/xml")},
        data={"_csrf_token": staff.client.csrf_token(), "do": "send"},
    )
    assert sent.status_code == 200 and "enregistré, non diffusé" in sent.text
    with write_session(engine) as session:
        (row,) = session.scalars(select(CapIgnored)).all()
        facts = (row.identifier, row.msg_type, row.cap_document, row.created_by is not None)
    assert facts == ("2.49.0.0.250.0.FR.20261206100000.541007", "Cancel", document, True)
    assert count(engine) == 0 and count(engine, Job) == 0  # nothing published, nothing sent
    again = staff.client.post_form("/staff/alerts/import", {"xml": document.decode()})
    assert again.status_code == 400 and "déjà été importé" in again.text


def test_an_update_of_an_alert_never_seen_covering_the_territory_becomes_a_new_alert(
    engine,
) -> None:
    with write_session(engine) as session:
        alert = cap_alerts.import_cap(session, feed("mise_a_jour_alerte_inconnue_nuts2.xml"))
        assert isinstance(alert, Alert)
        facts = (alert.msg_type, alert.state, alert.thread_id == alert.id, alert.references_id)
        communes = alert.communes
    assert facts == ("Update", "active", True, None)
    assert communes == ","  # FRF3 (Lorraine, NUTS 2016/2021) holds every commune of the territory
    assert count(engine, Job) == 1


def test_an_iso_8859_1_message_is_stored_and_exported_byte_for_byte_with_its_charset(
    staff, engine, client
) -> None:
    document = feed("prefecture_crue_iso8859-1.xml")
    assert "é".encode("iso-8859-1") in document and "é".encode() not in document
    preview = staff.client.post(
        "/staff/alerts/import",
        files={"file": ("crue.xml", document, "application/xml")},
        data={"_csrf_token": staff.client.csrf_token(), "topic": "auto"},
    )
    assert preview.status_code == 200, preview.text
    assert "Crue de l&#39;Alzette : éviter les berges" in preview.text
    assert "Audun-le-Tiche, Russange" in preview.text
    carried = re.search(r'name="document_b64" value="([^"]+)"', preview.text).group(1)
    sent = staff.client.post_form(
        "/staff/alerts/import", {"document_b64": carried, "topic": "auto", "do": "send"}
    )
    assert sent.status_code == 303
    alert = latest(engine)
    assert alert.sender_name == "Préfecture de la Moselle"
    assert topics.unpack(alert.communes) == ["57038", "57602"]
    exported = client.get(f"/alerts/{alert.id}.cap")
    assert exported.content == document
    assert exported.headers["content-type"] == "application/cap+xml; charset=ISO-8859-1"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("NUTS3", "FRF33", MOSELLE),  # NUTS 2016 and 2021
        ("NUTS3", "FR413", MOSELLE),  # NUTS 2013
        ("NUTS3", "FR411", ["54523", "54580"]),  # Meurthe-et-Moselle, NUTS 2013
        ("NUTS2", "FR41", TERRITORY),  # Lorraine, NUTS 2013
        ("NUTS1", "FRF", TERRITORY),  # Grand Est
        ("NUTS", "FR", TERRITORY),
        ("NUTS3", "LU000", []),
        ("EMMA_ID", "FR057", MOSELLE),  # MeteoAlarm's département code
        ("EMMA_ID", "FRF31", ["54523", "54580"]),
        ("CODE_INSEE", "54580", ["54580"]),
        ("codeInsee", "57602", ["57602"]),
        ("LAU", "FR57038", ["57038"]),
        ("COG", "54523", ["54523"]),
        ("DEP", "54", ["54523", "54580"]),
        ("departement", "057", MOSELLE),
        ("INSEE", "57999", []),
        ("FIPS6", "57", []),  # an unknown kind of code matches nothing
    ],
)
def test_area_geocodes_of_every_nuts_version_and_national_codes_are_matched(
    name: str, value: str, expected: list[str]
) -> None:
    communes = [
        ("57038", "Audun-le-Tiche", 49.472, 5.955),
        ("57041", "Aumetz", 49.418, 5.944),
        ("57097", "Boulange", 49.382, 5.951),
        ("57529", "Ottange", 49.440, 6.017),
        ("57565", "Rédange", 49.493, 5.918),
        ("57602", "Russange", 49.483, 5.953),
        ("54523", "Thil", 49.473, 5.905),
        ("54580", "Villerupt", 49.467, 5.929),
    ]
    area = CapArea(areaDesc="zone", geocodes=[CapValue(name, value)])
    assert sorted(cap_areas.match_communes([area], communes)) == sorted(expected)


def test_eclor_alert_import_takes_the_staff_path_and_says_accepted_or_refused(
    settings, engine, capsys, tmp_path
) -> None:
    first = FEEDS / "meteoalarm_trilingue_nuts2013.xml"
    assert run_cli(settings, "import", str(first)) == 0
    assert "published (Alert" in capsys.readouterr().out
    assert run_cli(settings, "import", str(FEEDS / "meteoalarm_annulation_sans_info.xml")) == 0
    assert "published (Cancel" in capsys.readouterr().out
    assert run_cli(settings, "import", str(FEEDS / "annulation_alerte_inconnue.xml")) == 0
    assert "recorded, not published" in capsys.readouterr().out
    # refused, each with its reason on stderr: already received, invalid CAP, not Actual
    assert run_cli(settings, "import", str(first)) == 2
    assert "déjà été importé" in capsys.readouterr().err
    broken = tmp_path / "broken.xml"
    broken.write_bytes(first.read_bytes().replace(b"<status>Actual</status>", b""))
    assert run_cli(settings, "import", str(broken)) == 2
    assert "alert.status" in capsys.readouterr().err
    exercise = tmp_path / "exercise.xml"
    exercise.write_bytes(feed("prefecture_crue_iso8859-1.xml").replace(b"Actual", b"Exercise"))
    assert run_cli(settings, "import", str(exercise)) == 2
    assert "Actual" in capsys.readouterr().err
    assert run_cli(settings, "import", str(tmp_path / "missing.xml")) == 2
    with write_session(engine) as session:
        kinds = [a.msg_type for a in session.scalars(select(Alert).order_by(Alert.id)).all()]
    assert kinds == ["Alert", "Cancel"] and count(engine, CapIgnored) == 1


def _profile_problems(document: bytes) -> list[str]:
    """The common CAP profile's rules an export must meet, beyond the XSD."""
    root = ElementTree.fromstring(document)
    problems = []
    infos = root.findall("cap:info", NS)
    if not infos:
        problems.append("no info")
    for info in infos:
        for name in ("language", "expires", "senderName", "headline", "description", "web"):
            node = info.find(f"cap:{name}", NS)
            if node is None or not (node.text or "").strip():
                problems.append(f"info without {name}")
        areas = info.findall("cap:area", NS)
        if not areas:
            problems.append("info without area")
        for area in areas:
            if area.find("cap:polygon", NS) is None:
                problems.append("area without polygon")
            if area.find("cap:geocode", NS) is None:
                problems.append("area without geocode")
    return problems


def test_eclor_alerts_export_as_cap_that_validates_with_the_communes_outlines_and_codes(
    staff, engine, client, cap_schema, settings
) -> None:
    staff.client.post_form(
        "/staff/alerts/new", {**FORM, "body": "", "communes": ["57038", "54580"], "do": "send"}
    )
    two = latest(engine)
    staff.client.post_form("/staff/alerts/new", {**FORM, "communes": [], "do": "send"})
    everywhere = latest(engine)
    assert run_cli(settings, "--topic", "waste_centre", "--title", "Déchèterie fermée") == 0
    from_cli = latest(engine)
    for alert, expected in (
        (two, ["57038", "54580"]),
        (everywhere, TERRITORY),
        (from_cli, TERRITORY),
    ):
        document = client.get(f"/alerts/{alert.id}.cap").content
        cap_schema.validate(document)  # raises with the reason when the XSD refuses it
        assert _profile_problems(document) == []
        root = ElementTree.fromstring(document)
        areas = root.findall("cap:info/cap:area", NS)
        codes = [a.find("cap:geocode/cap:value", NS).text for a in areas]
        assert sorted(codes) == sorted(expected)
        # each commune's own outline holds its centre: the polygon is that commune's
        for area, code in zip(areas, codes, strict=True):
            ring = [
                tuple(float(x) for x in point.split(","))
                for point in area.find("cap:polygon", NS).text.split()
            ]
            matched = cap_areas.match_communes(
                [CapArea(areaDesc="x", polygons=[ring])], _communes(engine)
            )
            assert matched == {code}
    description = ElementTree.fromstring(client.get(f"/alerts/{two.id}.cap").content).find(
        "cap:info/cap:description", NS
    )
    assert description.text == two.title  # no body: the title stands as the description


def _communes(engine) -> list[tuple[str, str, float, float]]:
    from app.models.territory import Commune

    with write_session(engine) as session:
        return [(c.insee, c.name, c.lat, c.lon) for c in session.scalars(select(Commune))]


def test_imported_feed_messages_validate_against_the_xsd(cap_schema) -> None:
    for path in sorted(FEEDS.glob("*.xml")):
        cap_schema.validate(str(path))


def test_an_alert_id_past_the_databases_integer_is_not_found(client) -> None:
    # found by schemathesis on PostgreSQL: 20619959374 answered 500 (integer out of range)
    for path in ("/alerts/2147483648.cap", "/alerts/20619959374", "/alerts/2147483647.cap"):
        assert client.get(path).status_code == 404, path
