"""Open data, live: every changing dataset has its NGSI-LD twin (reports, daily counts, alerts, waiting
time, lights, traffic, air), listed in the catalogue, carrying what the file carries and nothing personal."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import pytest
from rdflib import URIRef
from rdflib import namespace as ns
from sqlalchemy import select

from app.db import utcnow, write_session
from app.models.reports import Report
from app.models.sensors import WasteCentreEstimate
from app.opendata import catalogue, registry, snapshots
from app.opendata.contrib import local_day
from tests.opendata_helpers import EMAIL, FREE_TEXT, NAME, PHONE, seed

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

LD = {"accept": "application/ld+json"}
SDM_ALERT_CATEGORIES = {
    "traffic",
    "naturalDisaster",
    "weather",
    "environment",
    "health",
    "security",
    "agriculture",
}
SDM_ALERT_SEVERITIES = {"informational", "low", "medium", "high", "critical"}


@pytest.fixture
def published(client, engine, settings):
    seed(engine)
    snapshots.generate(engine, settings.var_dir, settings.base_url)
    return client


def _entities(client, entity_type: str) -> list[dict]:
    answer = client.get(f"/ngsi-ld/v1/entities?type={entity_type}&limit=1000", headers=LD)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_every_changing_dataset_has_an_ngsi_ld_twin_that_the_api_serves(published) -> None:
    changing = [d for d in registry.contributed() if d.live_kinds]
    assert {d.slug for d in changing} >= {"signalements", "signalements-quotidiens", "alertes"}
    for dataset in changing:
        assert dataset.twin, f"{dataset.slug} has a live stream but no NGSI-LD twin"
        entities = _entities(published, dataset.twin)
        assert entities and all(e["type"] == dataset.twin for e in entities), dataset.slug
        assert all(e["id"].startswith(f"urn:ngsi-ld:{dataset.twin}:") for e in entities)


def test_the_catalogue_lists_each_twin_as_an_ngsi_ld_distribution_served_by_the_api(
    published, settings
) -> None:
    graph = catalogue.parse(published.get("/data/catalog.ttl").content, "ttl")
    base = settings.base_url.rstrip("/")
    service = URIRef(f"{base}/data#api-ngsi-ld")
    for slug, twin in (("signalements", "Open311ServiceRequest"), ("alertes", "Alert")):
        dist = URIRef(f"{base}/data/{slug}#ngsi-ld")
        assert (URIRef(f"{base}/data/{slug}#dataset"), ns.DCAT.distribution, dist) in graph
        assert (dist, ns.DCAT.accessURL, URIRef(f"{base}/ngsi-ld/v1/entities?type={twin}")) in graph
        assert (dist, ns.DCAT.accessService, service) in graph
        assert (service, ns.DCAT.servesDataset, URIRef(f"{base}/data/{slug}#dataset")) in graph
        assert (dist, ns.DCTERMS.format, None) in graph


def test_the_reports_twin_carries_what_the_file_carries_and_nothing_personal(published) -> None:
    rows = list(csv.DictReader(io.StringIO(published.get("/data/signalements.csv").text)))
    answer = published.get("/ngsi-ld/v1/entities?type=Open311ServiceRequest&limit=100", headers=LD)
    body = answer.text
    for secret in (NAME, EMAIL, PHONE, FREE_TEXT, "Quintal"):
        assert secret not in body
    entities = answer.json()
    assert len(entities) == len(rows) == 4  # the hidden report is in neither
    by_state = {e["workflowState"]["value"]: e for e in entities}
    assert (
        set(by_state) == {r["etat"] for r in rows} == {"new", "confirmed", "resolved", "rejected"}
    )
    assert by_state["new"]["status"]["value"] == "open"
    assert by_state["resolved"]["status"]["value"] == "closed"
    assert by_state["resolved"]["updated_datetime"]["value"] == next(
        r["date_resolution"] for r in rows if r["etat"] == "resolved"
    )
    for entity in entities:
        assert entity["service_code"]["value"] == "bulky_items"
        assert entity["jurisdiction_id"]["value"] == "57038"
        lon, lat = entity["location"]["value"]["coordinates"]
        assert (round(lat, 3), round(lon, 3)) == (lat, lon)  # rounded as the file (≈ 100 m)
        assert len(entity["requested_datetime"]["value"]) == 10  # the day, not the time
        assert set(entity) <= {
            "id",
            "type",
            "@context",
            "service_code",
            "service_name",
            "status",
            "workflowState",
            "jurisdiction_id",
            "requested_datetime",
            "updated_datetime",
            "location",
        }
    assert sorted((r["latitude"], r["longitude"]) for r in rows) == sorted(
        (
            str(e["location"]["value"]["coordinates"][1]),
            str(e["location"]["value"]["coordinates"][0]),
        )
        for e in entities
    )


def test_a_report_reads_as_one_entity_and_a_hidden_one_is_not_found(published, engine) -> None:
    with write_session(engine) as session:
        hidden_id = session.scalars(select(Report.id).where(Report.status == "hidden")).one()
        shown_id = session.scalars(select(Report.id).where(Report.status == "confirmed")).one()
    one = published.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Open311ServiceRequest:{shown_id}")
    assert one.status_code == 200 and one.json()["workflowState"]["value"] == "confirmed"
    gone = published.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Open311ServiceRequest:{hidden_id}")
    assert gone.status_code == 404
    assert gone.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"


def test_the_daily_count_twin_counts_todays_public_reports_per_category(published, engine) -> None:
    def tyres() -> int:
        entity = published.get("/ngsi-ld/v1/entities/urn:ngsi-ld:DailyReportCount:tyres").json()
        assert entity["type"] == "DailyReportCount" and entity["category"]["value"] == "tyres"
        return entity["numberOfReports"]["value"]

    before = tyres()
    now = utcnow()
    with write_session(engine) as session:
        for status in ("new", "new", "hidden"):
            session.add(
                Report(
                    category="tyres",
                    status=status,
                    lat=49.47,
                    lon=5.95,
                    commune_insee="57038",
                    created_at=now,
                )
            )
        session.add(  # yesterday's report is not today's
            Report(category="tyres", lat=49.47, lon=5.95, created_at=now - dt.timedelta(days=2))
        )
    assert tyres() == before + 2
    counts = _entities(published, "DailyReportCount")
    assert {e["category"]["value"] for e in counts} >= {"tyres", "bulky_items"}
    assert {e["dateObserved"]["value"]["@value"] for e in counts} == {local_day(now, PARIS)}


def test_the_alerts_twin_is_a_smart_data_models_alert_without_exercises(published) -> None:
    (alert,) = _entities(published, "Alert")  # the exercise is not published
    assert alert["data"]["value"]["capIdentifier"] == "eclor-od-Actual"
    assert alert["severity"]["value"] in SDM_ALERT_SEVERITIES
    assert alert["severity"]["value"] == "medium"  # CAP Moderate
    assert "category" not in alert or alert["category"]["value"] in SDM_ALERT_CATEGORIES
    assert alert["description"]["value"] == "Route fermée à Ottange"
    assert alert["dateIssued"]["value"]["@type"] == "DateTime"
    assert alert["data"]["value"]["communes"] == ["57529"]
    assert NAME not in json.dumps(alert) and EMAIL not in json.dumps(alert)


def test_the_waiting_time_twin_gives_the_latest_estimate(published, engine) -> None:
    (before,) = _entities(published, "WasteCentreObserved")
    assert before["waitingTime"]["value"] == 6.0 and before["waitingTime"]["unitCode"] == "MIN"
    with write_session(engine) as session:
        session.add(
            WasteCentreEstimate(
                sensor_id="WC-OD-01", ts=utcnow(), wait_min=17.24, method="queue", saturated=True
            )
        )
    (after,) = _entities(published, "WasteCentreObserved")
    assert after["waitingTime"]["value"] == 17.2 and after["saturated"]["value"] is True


def test_the_served_context_expands_the_twins_types_to_smart_data_models(published) -> None:
    context = published.get("/ngsi-ld/v1/context.jsonld").json()["@context"][0]
    assert (
        context["Open311ServiceRequest"]
        == "https://smartdatamodels.org/dataModel.IssueTracking/Open311ServiceRequest"
    )
    assert context["Alert"] == "https://smartdatamodels.org/dataModel.Alert/Alert"
    assert context["severity"] == "https://smartdatamodels.org/dataModel.Alert/severity"
    assert context["dateObserved"] == "https://smartdatamodels.org/dateObserved"
    assert "DailyReportCount" not in context  # Eclor's own: NGSI-LD's default vocabulary


def test_a_dataset_page_links_to_its_twin(published) -> None:
    page = published.get("/data/alertes").text
    assert 'href="/ngsi-ld/v1/entities?type=Alert"' in page
    assert "/ngsi-ld/v1/entities?type=" not in published.get("/data/commerces").text  # no twin
