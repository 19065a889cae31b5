"""Open data: the catalogue in three serialisations, DCAT-AP 3 shapes, files valid against their
Table Schema, anonymised by construction, small counts suppressed."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from rdflib import Graph, Namespace
from rdflib import namespace as ns
from rdflib.compare import isomorphic

from app.opendata import catalogue, registry, snapshots
from tests.opendata_helpers import EMAIL, FREE_TEXT, NAME, PHONE, seed

SHAPES = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "standards"
    / "dcat-ap"
    / "dcat-ap-3.0.0-SHACL.ttl"
)
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE_RE = re.compile(r"(?<![\d.])0\d(?:[ .-]?\d\d){4}(?![\d.])|\+\d{2,3}[ .-]?\d(?:[ .-]?\d\d){4}")


@pytest.fixture
def published(client, engine, settings):
    seed(engine)
    snapshots.generate(engine, settings.var_dir, settings.base_url)
    return client


def _catalogue(client, fmt: str) -> Graph:
    response = client.get(f"/data/catalog.{fmt}")
    assert response.status_code == 200, response.text
    return catalogue.parse(response.content, fmt)


def test_the_three_catalogue_serialisations_describe_the_same_graph(published) -> None:
    jsonld, turtle, rdfxml = (_catalogue(published, fmt) for fmt in ("jsonld", "ttl", "rdf"))
    assert len(turtle) > 300
    assert isomorphic(jsonld, turtle)
    assert isomorphic(turtle, rdfxml)
    datasets = set(turtle.subjects(ns.RDF.type, ns.DCAT.Dataset))
    assert len(datasets) == len(registry.contributed())
    services = {str(s) for s in turtle.subjects(ns.RDF.type, ns.DCAT.DataService)}
    assert {s.rsplit("#api-", 1)[1] for s in services} == {
        "live",
        "open311",
        "ngsi-ld",
        "rdex",
        "carpool",
    }


def test_the_carpool_api_is_a_data_service_with_its_endpoint_and_description(published) -> None:
    graph = _catalogue(published, "ttl")
    api = next(
        s
        for s in graph.subjects(ns.RDF.type, ns.DCAT.DataService)
        if str(s).endswith("#api-carpool")
    )
    endpoint = graph.value(api, ns.DCAT.endpointURL)
    description = graph.value(api, ns.DCAT.endpointDescription)
    assert str(endpoint).endswith("/api/carpool")
    assert str(description).endswith("/schema/openapi.json")
    assert (description, ns.RDF.type, ns.RDFS.Resource) in graph
    assert str(graph.value(api, ns.DCTERMS.conformsTo)) == (
        "https://github.com/fabmob/standard-covoiturage"
    )
    assert graph.value(api, ns.DCTERMS.publisher) is not None
    assert graph.value(api, ns.DCAT.contactPoint) is not None
    # Both addresses answer: the public search of the API, and the document that describes it.
    status = published.get("/api/carpool/status")
    assert status.status_code == 200 and status.json()["status"] == "ok"
    document = published.get("/schema/openapi.json").json()
    assert "/api/carpool/driver_journeys" in document["paths"]


def test_the_catalogue_passes_the_dcat_ap_3_shapes_without_a_violation(published) -> None:
    from pyshacl import validate

    shapes = Graph().parse(SHAPES, format="turtle")
    _conforms, results, text = validate(
        _catalogue(published, "ttl"), shacl_graph=shapes, inference="none", allow_warnings=True
    )
    sh = Namespace("http://www.w3.org/ns/shacl#")
    violations = [
        r
        for r in results.subjects(ns.RDF.type, sh.ValidationResult)
        if results.value(r, sh.resultSeverity) == sh.Violation
    ]
    assert violations == [], text


def test_the_catalogue_says_who_publishes_where_when_how_often_and_under_which_licence(
    published,
) -> None:
    g = _catalogue(published, "ttl")
    (cat,) = g.subjects(ns.RDF.type, ns.DCAT.Catalog)
    assert (
        g.value(cat, ns.DCTERMS.publisher) is not None
        and g.value(cat, ns.DCAT.contactPoint) is not None
    )
    assert (
        str(g.value(cat, ns.DCTERMS.license))
        == "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
    )
    assert len(set(g.objects(cat, ns.DCTERMS.spatial))) == 8  # the communes
    reports = next(
        d
        for d in g.subjects(ns.RDF.type, ns.DCAT.Dataset)
        if str(d).endswith("/data/signalements#dataset")
    )
    assert str(g.value(reports, ns.DCTERMS.accrualPeriodicity)).endswith("/frequency/CONT")
    assert str(g.value(reports, ns.DCAT.theme)).endswith("/data-theme/ENVI")
    assert (
        g.value(reports, ns.DCTERMS.temporal) is not None
        and g.value(reports, ns.DCTERMS.modified) is not None
    )
    assert set(g.objects(reports, ns.DCTERMS.conformsTo))
    description = str(g.value(reports, ns.DCTERMS.description))
    assert "Individualisation" in description.title() or "individualisation" in description
    assert (
        "Corrélation" in description
        and "Inférence" in description
        and "Fraîcheur attendue" in description
    )


def test_every_csv_validates_against_its_table_schema(published, settings) -> None:
    from frictionless import Resource, Schema, validate

    for dataset in registry.contributed():
        name = f"{dataset.slug}.csv"
        schema = published.get(f"/data/{dataset.slug}.schema.json").json()
        body = published.get(f"/data/{name}").content
        body.decode("utf-8")  # UTF-8
        target = settings.var_dir / "check" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        resource = Resource(
            path=name,
            basepath=str(target.parent),
            schema=Schema.from_descriptor({k: v for k, v in schema.items() if k != "$schema"}),
        )
        report = validate(resource)
        assert report.valid, (
            dataset.slug,
            report.flatten(["rowNumber", "fieldName", "type", "note"]),
        )
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
        assert len(rows) > 1, f"{dataset.slug} has no row in this test: seed it"


def _published_files(client) -> dict[str, str]:
    files = {}
    for dataset in registry.contributed():
        for fmt in ("csv", "schema.json") + (("geojson",) if dataset.geometry else ()):
            response = client.get(f"/data/{dataset.slug}.{fmt}")
            assert response.status_code == 200
            files[f"{dataset.slug}.{fmt}"] = response.text
    return files


def test_no_published_file_carries_an_email_a_phone_a_name_or_a_residents_words(published) -> None:
    files = _published_files(published)
    assert len(files) >= 20
    for name, text in files.items():
        assert not EMAIL_RE.search(text), name
        assert not PHONE_RE.search(text), name
        for secret in (
            NAME,
            "Quintal",
            "Vanbeselaere",
            "Odile",
            FREE_TEXT,
            "voisine",
            EMAIL,
            PHONE,
        ):
            assert secret not in text, (name, secret)
    catalogue_text = published.get("/data/catalog.ttl").text
    for secret in (NAME, FREE_TEXT, EMAIL, PHONE):
        assert secret not in catalogue_text


def test_positions_of_reports_are_rounded_and_hidden_reports_are_not_published(published) -> None:
    rows = list(csv.DictReader(io.StringIO(published.get("/data/signalements.csv").text)))
    assert {r["etat"] for r in rows} == {"new", "confirmed", "resolved", "rejected"}
    for row in rows:
        assert len(row["latitude"].split(".")[1]) <= 3 and len(row["longitude"].split(".")[1]) <= 3
    geo = published.get("/data/signalements.geojson").json()
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == len(rows)
    assert set(geo["features"][0]["properties"]) == set(rows[0])


def test_a_carpool_flow_of_three_trips_is_suppressed_and_one_of_twelve_is_published(
    published,
) -> None:
    rows = list(csv.DictReader(io.StringIO(published.get("/data/covoiturage-flux.csv").text)))
    small = [r for r in rows if r["destination_pays"] == "LU" and r["origine_code"] == "57038"]
    assert small and all(r["trajets"] == "" and r["masque"] == "true" for r in small)
    big = [r for r in rows if r["origine_code"] == "54580"]
    assert [r["trajets"] for r in big] == ["12"] and big[0]["destination_pays"] == "LU"
    assert all(r["trajets"] == "" or int(r["trajets"]) >= 11 for r in rows)


def test_alerts_list_public_alerts_with_their_cap_document_and_not_exercises(published) -> None:
    rows = list(csv.DictReader(io.StringIO(published.get("/data/alertes.csv").text)))
    assert [r["identifiant"] for r in rows] == ["eclor-od-Actual"]
    assert rows[0]["document_cap"].endswith(".cap") and rows[0]["communes_insee"] == "57529"


def test_shops_are_listed_with_opening_hours_but_no_phone(published) -> None:
    (row,) = csv.DictReader(io.StringIO(published.get("/data/commerces.csv").text))
    assert row["horaires"] == "Mo-Fr 07:00-12:30; Sa 07:00-12:00"
    assert "phone" not in row and "telephone" not in row


def test_the_catalogue_page_shows_freshness_licence_and_downloads(published) -> None:
    html = published.get("/data").text
    assert "Licence Ouverte 2.0" in html and "/data/signalements.csv" in html and "À jour" in html
    page = published.get("/data/qualite-air")
    assert page.status_code == 200 and "<table" in page.text and "<svg" in page.text


def test_open_data_and_the_apis_are_open_to_other_sites_but_pages_are_not(published) -> None:
    assert published.get("/data/catalog.jsonld").headers["access-control-allow-origin"] == "*"
    assert published.get("/data/commerces.csv").headers["access-control-allow-origin"] == "*"
    assert published.get("/open311/v2/services.json").headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in published.get("/reports").headers


def test_an_unknown_dataset_or_format_is_a_clear_404(published) -> None:
    assert published.get("/data/nope.csv").status_code == 404
    assert published.get("/data/alertes.geojson").status_code == 404
    assert published.get("/data/nope").status_code == 404
