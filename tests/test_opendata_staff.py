"""Staff control of open data: publication, datasets added from a file, downloads, readers' error reports;
and the documented rate limit."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.db import read_session
from app.models.opendata import OpenDataIssue, OpenDataUpload
from app.opendata import registry

SCHEMA = {
    "fields": [
        {"name": "nom_aire", "type": "string", "constraints": {"required": True}},
        {"name": "places", "type": "integer", "constraints": {"minimum": 0}},
        {"name": "latitude", "type": "number"},
        {"name": "longitude", "type": "number"},
    ]
}


def _upload(staff, filename: str, body: bytes, slug: str = "aires-de-jeux"):
    return staff.client.post(
        "/staff/data/upload",
        data={
            "_csrf_token": staff.client.csrf_token(),
            "slug": slug,
            "title": "Aires de jeux",
            "description": "Les aires de jeux des communes.",
            "keywords": "jeux, enfants",
            "theme": "SOCI",
            "frequency": "IRREG",
            "published": "1",
        },
        files={"file": (filename, body), "schema": ("schema.json", json.dumps(SCHEMA).encode())},
        follow_redirects=False,
    )


def test_staff_withdraw_a_dataset_and_it_leaves_the_page_the_catalogue_and_the_files(
    staff, client
) -> None:
    assert client.get("/data/alertes.csv").status_code == 200
    response = staff.client.post_form("/staff/data/alertes/publish", {"published": "0"})
    assert response.status_code == 303
    assert "/data/alertes" not in client.get("/data").text
    assert "/data/alertes" not in client.get("/data/catalog.ttl").text
    assert client.get("/data/alertes.csv").status_code == 404
    staff.client.post_form("/staff/data/alertes/publish", {"published": "1"})
    assert client.get("/data/alertes.csv").status_code == 200


def test_staff_add_a_dataset_from_a_csv_checked_against_its_schema(staff, client) -> None:
    csv_body = "nom_aire;places;latitude;longitude\r\nSquare Jeanne-d'Arc;12;49.47;5.93\r\nParc;;49.48;5.95\r\n"
    response = _upload(staff, "aires.csv", csv_body.encode())
    assert response.status_code == 303, response.text
    published = client.get("/data/aires-de-jeux.csv").text.splitlines()
    assert published == [
        "nom_aire,places,latitude,longitude",
        "Square Jeanne-d'Arc,12,49.47,5.93",
        "Parc,,49.48,5.95",
    ]
    assert client.get("/data/aires-de-jeux.geojson").json()["features"][0]["geometry"][
        "coordinates"
    ] == [5.93, 49.47]
    assert "aires-de-jeux" in client.get("/data/catalog.jsonld").text


def test_staff_add_a_dataset_from_geojson_points(staff, client) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [5.95, 49.47]},
                "properties": {"nom_aire": "Parc municipal", "places": 20},
            }
        ],
    }
    assert (
        _upload(staff, "aires.geojson", json.dumps(doc).encode(), slug="aires-geo").status_code
        == 303
    )
    assert client.get("/data/aires-geo.csv").text.splitlines()[1] == "Parc municipal,20,49.47,5.95"


def test_a_file_that_breaks_its_schema_is_refused_with_the_line_and_nothing_is_kept(
    staff, engine, settings
) -> None:
    response = _upload(
        staff, "aires.csv", b"nom_aire,places,latitude,longitude\nParc,beaucoup,49.4,5.9\n"
    )
    assert response.status_code == 400
    assert "Ligne 2" in response.text and "places" in response.text
    response = _upload(
        staff,
        "aires.csv",
        b"nom_aire,places,latitude,longitude\nAppeler le 06 12 34 56 78,3,49.4,5.9\n",
    )
    assert response.status_code == 400 and "téléphone" in response.text
    response = _upload(staff, "aires.csv", b"nom,places\nParc,3\n")
    assert response.status_code == 400 and "colonnes" in response.text
    with read_session(engine) as session:
        assert session.scalars(select(OpenDataUpload)).all() == []
    assert not (registry.uploads_dir(settings.var_dir) / "aires-de-jeux.csv").exists()


def test_staff_see_downloads_per_dataset_and_format(staff, client) -> None:
    for _ in range(3):
        client.get("/data/commerces.csv")
    client.get("/data/commerces.schema.json")
    html = staff.client.get("/staff/data").text
    row = html.split('href="/data/commerces"', 1)[1].split("</tr>", 1)[0]
    assert "csv : 3" in row and "schema : 1" in row


def test_a_reader_reports_an_error_and_staff_answer_it_publicly(staff, resident, engine) -> None:
    words = "La commune de deux signalements est vide, merci de vérifier."
    response = resident.client.post_form("/data/signalements/issues", {"body": words})
    assert response.status_code == 303
    assert (
        words not in resident.client.get("/data/signalements").text
    )  # the reader's words stay with staff
    assert words in staff.client.get("/staff/data").text
    with read_session(engine) as session:
        issue = session.scalars(select(OpenDataIssue)).one()
    answer = "Corrigé : les deux signalements ont été replacés dans leur commune."
    assert (
        staff.client.post_form(
            f"/staff/data/issues/{issue.id}/answer", {"answer": answer}
        ).status_code
        == 303
    )
    assert answer in resident.client.get("/data/signalements").text


def test_a_too_short_error_report_gets_a_french_message_and_nothing_is_saved(
    client, engine
) -> None:
    response = client.post_form("/data/signalements/issues", {"body": "faux"})
    assert response.status_code == 400 and "10 caractères" in response.text
    with read_session(engine) as session:
        assert session.scalars(select(OpenDataIssue)).all() == []


def test_no_api_key_is_needed_and_the_documented_rate_limit_answers_429(
    app, settings, client
) -> None:
    settings.opendata_requests_per_minute = 3
    assert "3 requêtes par minute" in client.get("/data").text
    answers = [client.get("/data/catalog.ttl").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
