"""Alerts: the staff pages (write, preview, send, update, cancel), CAP import and export, the public
list and page, the home panel, ``eclor alert`` and the demo data."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.alerts import cap, cap_alerts, cap_areas, cap_read, topics
from app.alerts import publish as alerts
from app.db import utcnow, write_session
from app.models.jobs import Job
from app.models.push import Alert
from app.models.territory import Commune

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

SENDER = "vigilance.meteofrance.fr"
# Northern Moselle: covers Audun-le-Tiche, Aumetz, Boulange, Ottange, Russange (not Villerupt nor Thil,
# in Meurthe-et-Moselle, west of 5.935°E).
NORTH_MOSELLE = "49.505,5.940 49.520,6.250 49.200,6.700 49.150,6.250 49.300,5.940 49.505,5.940"


def cap_document(
    identifier: str,
    *,
    msg_type: str = "Alert",
    references: str = "",
    area: str = "",
    hours: int = 20,
    severity: str = "Severe",
    extra_alert: str = "",
    status: str = "Actual",
) -> bytes:
    """A Météo-France-like CAP 1.2 warning, valid for ``hours`` from now."""
    now = utcnow().replace(microsecond=0)
    sent = cap.format_time(now)
    area = (
        area
        or f"<area><areaDesc>Moselle (nord)</areaDesc><polygon>{NORTH_MOSELLE}</polygon></area>"
    )
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>{SENDER}</sender>
  <sent>{sent}</sent>
  <status>{status}</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>{extra_alert}
  {refs}
  <info>
    <language>fr-FR</language>
    <category>Met</category>
    <event>Neige-verglas</event>
    <urgency>Immediate</urgency>
    <severity>{severity}</severity>
    <certainty>Likely</certainty>
    <expires>{cap.format_time(now + timedelta(hours=hours))}</expires>
    <senderName>Météo-France</senderName>
    <headline>Vigilance orange neige-verglas</headline>
    <description>5 à 10 cm de neige attendus en soirée.</description>
    <instruction>Limitez vos déplacements.</instruction>
    <web>https://vigilance.meteofrance.fr/fr/moselle</web>
    {area}
  </info>
</alert>""".encode()


def reference(engine: Any, alert_id: int) -> str:
    with write_session(engine) as session:
        a = session.get(Alert, alert_id)
        return f"{a.sender},{a.identifier},{cap.format_time(a.sent_at)}"


def count(engine: Any, model: Any = Alert) -> int:
    with write_session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def latest(engine: Any) -> Alert:
    with write_session(engine) as session:
        return session.scalars(select(Alert).order_by(Alert.id.desc())).first()


FORM = {
    "title": "Passage frontière saturé à Audun",
    "body": "Bouchon de 3 km vers Esch.",
    "topic": "traffic",
    "communes": ["57038", "57602"],
    "urgency": "normal",
    "expires": "",
    "link": "/carpool",
}


def test_staff_preview_shows_the_notification_and_writes_nothing(staff, engine):
    r = staff.client.post_form("/staff/alerts/new", {**FORM, "do": "preview"})
    assert r.status_code == 200
    assert "Aperçu sur un téléphone" in r.text and "Passage frontière saturé à Audun" in r.text
    assert count(engine) == 0 and count(engine, Job) == 0


def test_staff_send_publishes_the_alert_and_queues_its_fan_out(staff, engine):
    r = staff.client.post_form("/staff/alerts/new", {**FORM, "do": "send"})
    assert r.status_code == 303
    alert = latest(engine)
    assert r.headers["location"] == f"/staff/alerts/{alert.id}?sent=1"
    assert (
        alert.title,
        alert.topic,
        alert.communes,
        alert.push_urgency,
        alert.msg_type,
        alert.state,
    ) == (FORM["title"], "traffic", ",57038,57602,", "normal", "Alert", "active")
    assert alert.area_desc == "Audun-le-Tiche, Russange" and alert.ttl_s == 86_400
    with write_session(engine) as session:
        job = session.scalars(select(Job)).one()
    assert job.kind == "push.alert" and job.dedupe_key == f"push.alert:{alert.id}"
    assert "C’est parti" in staff.client.get(r.headers["location"]).text


def test_the_form_refuses_bad_input_with_french_messages_and_writes_nothing(staff, engine):
    past = (utcnow() - timedelta(hours=1)).astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")
    cases = [
        ({"title": ""}, "Donnez un titre"),
        ({"topic": "horoscope"}, "Sujet inconnu"),
        ({"communes": ["75056"]}, "Commune inconnue"),
        ({"expires": past}, "dans le futur"),
        ({"expires": "demain"}, "Date et heure invalides"),
        ({"link": "javascript:alert(1)"}, "https://"),
        ({"body": "x" * 1001}, "trop long"),
        ({"body": "🚧" * 999}, "trop long pour une notification"),  # 3996 bytes of UTF-8
    ]
    for change, message in cases:
        r = staff.client.post_form("/staff/alerts/new", {**FORM, **change, "do": "send"})
        assert r.status_code == 400, change
        assert message in r.text, change
    assert count(engine) == 0 and count(engine, Job) == 0


def test_only_staff_can_write_alerts(resident, client, engine):
    assert resident.client.post_form("/staff/alerts/new", {**FORM, "do": "send"}).status_code == 403
    assert resident.client.get("/staff/alerts/new").status_code == 403
    assert client.post_form("/staff/alerts/new", {**FORM, "do": "send"}).status_code == 401
    assert count(engine) == 0


def test_staff_update_and_cancel_amend_the_alert_and_keep_its_history(staff, engine, client):
    staff.client.post_form("/staff/alerts/new", {**FORM, "do": "send"})
    original = latest(engine)
    r = staff.client.post_form(
        f"/staff/alerts/{original.id}/update",
        {
            **FORM,
            "title": "Frontière : ça se dégage",
            "urgency": "low",
            "do": "send",
            "note": "Une voie rouverte",
        },
    )
    assert r.status_code == 303
    update_ = latest(engine)
    assert (update_.msg_type, update_.references_id, update_.thread_id) == (
        "Update",
        original.id,
        original.id,
    )
    # The original cannot be amended twice: the update is the version to change now.
    r = staff.client.post_form(f"/staff/alerts/{original.id}/cancel", {"note": "fini"})
    assert r.status_code == 400 and "dernière version" in r.text
    r = staff.client.post_form(
        f"/staff/alerts/{update_.id}/cancel", {"note": "Circulation normale."}
    )
    assert r.status_code == 303
    cancel = latest(engine)
    assert (cancel.msg_type, cancel.body, cancel.state) == (
        "Cancel",
        "Circulation normale.",
        "cancelled",
    )
    with write_session(engine) as session:
        states = [a.state for a in session.scalars(select(Alert).order_by(Alert.id)).all()]
        assert states == ["cancelled"] * 3
        assert session.scalar(select(func.count()).select_from(Job)) == 3
    page = client.get(f"/alerts/{original.id}")
    assert "Historique de cette alerte" in page.text and "Fin d’alerte" in page.text
    assert "Voir la dernière version" in page.text
    assert "Frontière : ça se dégage" not in client.get("/").text


def test_an_alert_reads_back_as_cap_1_2(staff, client, engine):
    staff.client.post_form("/staff/alerts/new", {**FORM, "urgency": "high", "do": "send"})
    alert = latest(engine)
    r = client.get(f"/alerts/{alert.id}.cap")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/cap+xml")
    parsed = cap_read.parse(r.content)
    assert (parsed.identifier, parsed.msgType, parsed.status, parsed.scope) == (
        alert.identifier,
        "Alert",
        "Actual",
        "Public",
    )
    (info,) = parsed.infos
    assert (info.headline, info.description, info.category, info.language) == (
        FORM["title"],
        FORM["body"],
        ["Transport"],
        "fr-FR",
    )
    assert cap_areas.push_urgency(info) == "high"
    assert info.web == "http://testserver.local/carpool" or info.web.endswith("/carpool")
    with write_session(engine) as session:
        assert cap_areas.match_communes(info.areas, session.scalars(select(Commune)).all()) == {
            "57038",
            "57602",
        }
    staff.client.post_form(f"/staff/alerts/{alert.id}/cancel", {"note": ""})
    cancel = cap_read.parse(client.get(f"/alerts/{latest(engine).id}.cap").content)
    assert cancel.msgType == "Cancel" and cancel.references[0].identifier == alert.identifier
    assert client.get("/alerts/999.cap").status_code == 404
    assert client.get("/alerts/abc.cap").status_code == 404


def test_a_cap_warning_is_imported_with_its_communes_urgency_and_ttl(staff, engine):
    r = staff.client.post(
        "/staff/alerts/import",
        files={"file": ("vigilance.xml", cap_document("FR-1"), "text/xml")},
        data={"_csrf_token": staff.client.csrf_token(), "topic": "auto", "do": "send"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    alert = latest(engine)
    assert (alert.source, alert.topic, alert.push_urgency, alert.msg_type) == (
        "cap",
        "weather",
        "high",
        "Alert",
    )
    assert topics.unpack(alert.communes) == ["57038", "57041", "57097", "57529", "57602"]
    assert 19 * 3600 < alert.ttl_s <= 20 * 3600
    assert (
        alert.title == "Vigilance orange neige-verglas"
        and alert.instruction == "Limitez vos déplacements."
    )
    assert count(engine, Job) == 1


def test_a_cap_update_then_a_cancel_amend_the_imported_alert(staff, engine, client):
    with write_session(engine) as session:
        first = cap_alerts.import_cap(session, cap_document("FR-1"))
        first_id = first.id
    update_doc = cap_document(
        "FR-2",
        msg_type="Update",
        references=reference(engine, first_id),
        severity="Moderate",
        area="<area><areaDesc>Territoire</areaDesc><circle>49.45,5.95 20</circle></area>",
    )
    r = staff.client.post_form(
        "/staff/alerts/import", {"xml": update_doc.decode(), "topic": "road_safety", "do": "send"}
    )
    assert r.status_code == 303, r.text
    update_ = latest(engine)
    assert (
        update_.msg_type,
        update_.references_id,
        update_.communes,
        update_.topic,
        update_.push_urgency,
    ) == ("Update", first_id, ",", "road_safety", "normal")
    cancel_doc = cap_document("FR-3", msg_type="Cancel", references=reference(engine, update_.id))
    assert (
        staff.client.post_form(
            "/staff/alerts/import", {"xml": cancel_doc.decode(), "do": "send"}
        ).status_code
        == 303
    )
    cancel = latest(engine)
    assert (cancel.msg_type, cancel.thread_id, cancel.state) == ("Cancel", first_id, "cancelled")
    assert client.get(f"/alerts/{cancel.id}.cap").content == cancel_doc  # read back as received
    with write_session(engine) as session:
        assert alerts.active_alerts(session) == []


def test_cap_import_refusals_come_from_the_cap_parser_and_write_nothing(staff, engine):
    good = cap_document("FR-9").decode()
    cases = [
        (good.replace("<sender>vigilance.meteofrance.fr</sender>", ""), "sender"),
        (good.replace("<msgType>Alert</msgType>", "<msgType>Alarm</msgType>"), "msgType"),
        (
            good.replace(NORTH_MOSELLE, "49.505,5.940 49.520,6.250 49.200,6.700 49.150,6.250"),
            "polygon",
        ),
        (
            (
                '<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>'
            ),
            "document",
        ),
        ("pas du XML", "document"),
    ]
    for document, path in cases:
        r = staff.client.post_form("/staff/alerts/import", {"xml": document})
        assert r.status_code == 400
        assert "Message CAP invalide" in r.text and path in r.text, (path, r.text[-2000:])
        assert "root:" not in r.text
    assert count(engine) == 0 and count(engine, Job) == 0


def test_cap_messages_eclor_does_not_take_are_refused_with_a_reason(staff, engine):
    luxembourg = "<area><areaDesc>Luxembourg</areaDesc><geocode><valueName>NUTS3</valueName><value>LU000</value></geocode></area>"
    cases = [
        (cap_document("FR-10", area=luxembourg), "aucune commune du territoire"),
        (cap_document("FR-11", status="Exercise"), "Actual"),
        (  # an Update of an alert never seen is taken as new only where it covers the territory
            cap_document(
                "FR-12",
                msg_type="Update",
                references=f"{SENDER},FR-0,2026-11-20T10:00:00+01:00",
                area=luxembourg,
            ),
            "aucune commune du territoire",
        ),
    ]
    for document, message in cases:
        r = staff.client.post_form("/staff/alerts/import", {"xml": document.decode()})
        assert r.status_code == 400 and message in r.text, message
    assert count(engine) == 0
    assert (
        staff.client.post_form(
            "/staff/alerts/import", {"xml": cap_document("FR-13").decode(), "do": "send"}
        ).status_code
        == 303
    )
    r = staff.client.post_form(
        "/staff/alerts/import", {"xml": cap_document("FR-13").decode(), "do": "send"}
    )
    assert r.status_code == 400 and "déjà été importé" in r.text
    assert count(engine) == 1


def test_the_alert_list_shows_current_alerts_and_the_history(staff, client, engine):
    staff.client.post_form("/staff/alerts/new", {**FORM, "do": "send"})
    staff.client.post_form(
        "/staff/alerts/new",
        {
            **FORM,
            "title": "Déchèterie calme",
            "topic": "waste_centre",
            "communes": [],
            "do": "send",
        },
    )
    with write_session(engine) as session:
        old = alerts.publish(
            session,
            alerts.AlertInput(
                title="Neige l’an passé",
                body="",
                topic="weather",
                communes=[],
                expires_at=utcnow() - timedelta(days=1),
            ),
            source="staff",
            sender="eclor@test",
            now=utcnow() - timedelta(days=2),
        )
    page = client.get("/alerts")
    assert page.status_code == 200
    current, history = page.text.split("Historique", 1)
    assert "Passage frontière saturé" in current and "Déchèterie calme" in current
    assert "Neige l’an passé" in history and "Neige l’an passé" not in current
    villerupt = client.get("/alerts?commune=54580").text.split("Historique", 1)[0]
    assert "Déchèterie calme" in villerupt and "Passage frontière saturé" not in villerupt
    assert client.get(f"/alerts/{old.id}").status_code == 200
    assert client.get("/alerts/0").status_code == 404
    assert client.get("/alerts/../../etc").status_code == 404


def test_the_home_page_shows_the_alerts_for_the_persons_commune(staff, resident, engine, client):
    from app.models.accounts import User

    staff.client.post_form("/staff/alerts/new", {**FORM, "do": "send"})  # Audun-le-Tiche, Russange
    with write_session(engine) as session:
        session.get(User, resident.id).commune_insee = "54580"
    assert "Passage frontière saturé" not in resident.client.get("/").text
    assert "Passage frontière saturé" in client.get("/").text  # anonymous: every alert in force
    with write_session(engine) as session:
        session.get(User, resident.id).commune_insee = "57602"
    assert "Passage frontière saturé" in resident.client.get("/").text


def test_eclor_alert_publishes_through_the_same_path(settings, engine, capsys):
    from app import domains
    from app.cli import build_parser

    parser = build_parser()
    (run,) = [c.run for c in domains.commands() if c.name == "alert"]
    args = parser.parse_args(
        [
            "alert",
            "--topic",
            "waste_centre",
            "--title",
            "Déchèterie calme",
            "--body",
            "Moins de 5 minutes d’attente.",
            "--commune",
            "57038",
            "--urgency",
            "low",
            "--ttl",
            "7200",
        ]
    )
    assert run(args, settings) == 0
    assert "published" in capsys.readouterr().out
    alert = latest(engine)
    assert (alert.source, alert.topic, alert.communes, alert.push_urgency, alert.ttl_s) == (
        "cli",
        "waste_centre",
        ",57038,",
        "low",
        7200,
    )
    assert count(engine, Job) == 1
    bad = argparse.Namespace(
        topic="traffic", title="x", body="", commune=["99999"], urgency="normal", ttl=None, link=""
    )
    assert run(bad, settings) == 2
    assert "Commune inconnue" in capsys.readouterr().err
    assert count(engine) == 1


def test_the_demo_loader_adds_current_and_past_alerts_once(engine):
    import random

    from app import domains

    (loader,) = [item for item in domains.demo_loaders() if item.name == "alerts"]
    assert loader.order == 50
    with write_session(engine) as session:
        assert "alerts" in (loader.load(session, random.Random(1)) or "")
    with write_session(engine) as session:
        titles = [a.title for a in alerts.active_alerts(session)]
        assert any("frontière" in t for t in titles) and any("Déchèterie" in t for t in titles)
        total = session.scalar(select(func.count()).select_from(Alert))
        assert (
            session.scalar(
                select(func.count()).select_from(Alert).where(Alert.msg_type == "Cancel")
            )
            == 1
        )
    with write_session(engine) as session:
        assert loader.load(session, random.Random(1)) is None
    assert count(engine) == total


def test_published_samples_import_as_an_alert_its_update_and_its_cancel(engine):
    from pathlib import Path

    data = Path(__file__).parent / "data" / "cap"
    with write_session(engine) as session:
        first = cap_alerts.import_cap(
            session, (data / "meteofrance_neige_verglas_alert.xml").read_bytes()
        )
        update_ = cap_alerts.import_cap(
            session, (data / "meteofrance_neige_verglas_update.xml").read_bytes()
        )
        cancel = cap_alerts.import_cap(
            session, (data / "meteofrance_neige_verglas_cancel.xml").read_bytes()
        )
        rain = cap_alerts.import_cap(session, (data / "meteoalarm_pluie_emma_id.xml").read_bytes())
        facts = [(a.msg_type, a.thread_id, a.state) for a in (first, update_, cancel)]
        assert facts == [
            ("Alert", first.id, "cancelled"),
            ("Update", first.id, "cancelled"),
            ("Cancel", first.id, "cancelled"),
        ]
        # Moselle by its NUTS 3 code: the Moselle communes, not those of Meurthe-et-Moselle.
        assert topics.unpack(rain.communes) == [
            "57038",
            "57041",
            "57097",
            "57529",
            "57565",
            "57602",
        ]
        assert (
            first.title.startswith("Vigilance orange neige-verglas")
            and first.push_urgency == "high"
        )
