"""CAP import in two steps (import → preview → send) and alert pages that say which communes they reached."""

from __future__ import annotations

import re

from app.models.jobs import Job
from tests.test_alerts import FORM, cap_document, count, latest

REACHED = (
    "Audun-le-Tiche, Aumetz, Boulange, Ottange, Russange"  # the north of Moselle in cap_document
)


def test_an_imported_cap_warning_is_previewed_and_nothing_is_sent_before_staff_confirm(
    staff, engine
) -> None:
    client = staff.client
    answer = client.post(
        "/staff/alerts/import",
        files={"file": ("vigilance.xml", cap_document("FR-40"), "text/xml")},
        data={"_csrf_token": client.csrf_token(), "topic": "auto"},
        follow_redirects=False,
    )
    assert answer.status_code == 200
    page = answer.text
    assert "Aperçu : rien n’est encore envoyé" in page and "Vigilance orange neige-verglas" in page
    assert REACHED in page and "Envoyer cette alerte" in page
    assert count(engine) == 0 and count(engine, Job) == 0  # nothing written, nothing queued
    carried = re.search(r'name="document_b64" value="([^"]+)"', page).group(1)
    sent = client.post_form(
        "/staff/alerts/import", {"document_b64": carried, "topic": "auto", "do": "send"}
    )
    assert sent.status_code == 303
    alert = latest(engine)
    assert (alert.identifier, alert.source, alert.topic) == ("FR-40", "cap", "weather")
    assert count(engine, Job) == 1


def test_a_refused_cap_message_is_refused_at_the_preview_with_its_reason(staff, engine) -> None:
    answer = staff.client.post_form(
        "/staff/alerts/import", {"xml": cap_document("FR-41", status="Exercise").decode()}
    )
    assert (
        answer.status_code == 400
        and "Actual" in answer.text
        and "Envoyer cette alerte" not in answer.text
    )
    assert count(engine) == 0


def test_the_alert_pages_say_which_communes_the_alert_reached(staff, client, engine) -> None:
    staff.client.post_form(
        "/staff/alerts/import", {"xml": cap_document("FR-42").decode(), "do": "send"}
    )
    imported = latest(engine)
    for page in (
        staff.client.get(f"/staff/alerts/{imported.id}").text,
        client.get(f"/alerts/{imported.id}").text,
    ):
        assert "Communes touchées" in page and REACHED in page
    staff.client.post_form("/staff/alerts/new", {**FORM, "communes": [], "do": "send"})
    everywhere = latest(engine)
    page = staff.client.get(f"/staff/alerts/{everywhere.id}").text
    assert re.search(r"Tout le territoire \(Audun-le-Tiche, .*Villerupt\)", page)
