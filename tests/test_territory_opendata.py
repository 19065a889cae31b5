"""Open data on an install of several territories: each host publishes its own territory's rows,
datasets, choices, downloads and readers' reports, under its own publisher and licence.

A sweep of every open-data route in the route table, as the first territory's staff and
anonymously on its host, finds nothing of the Minett's (its communes, lights, sensors, shops,
alerts, budgets, carpool places, uploaded dataset and readers' reports); the Minett's host
publishes the Minett's rows and none of the first territory's."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from types import SimpleNamespace
from typing import Any

import pytest
from rdflib import Graph, Namespace
from rdflib import namespace as ns
from sqlmodel import Session, col, select, update

from app import territories
from app.db import make_engine, utcnow, write_session
from app.migrate import upgrade
from app.models.carpool import CarpoolAd, CarpoolBooking, CarpoolPlace
from app.models.lighting import LightEnergyMonth, LightGroup, Streetlight
from app.models.opendata import OpenDataIssue, OpenDataSetting, OpenDataUpload
from app.models.participation import Budget, BudgetProject
from app.models.push import Alert
from app.models.reports import Report
from app.models.sensors import Sensor, SensorHourly, WasteCentreEstimate
from app.models.shops import Shop
from app.models.territory import Commune, Territory
from app.opendata import catalogue, live, registry, snapshots, staff
from app.participation import budgets
from app.reports.opendata import REPORTS
from app.territory_setup import SetupError, export_bundle, import_bundle
from tests.conftest import fresh_database_url
from tests.territory_sweep import domain_routes, refused
from tests.test_opendata import SHAPES
from tests.test_territories import ESCH
from tests.test_territory_reports import add_minett

OPENDATA_DOMAIN = ("/data", "/staff/data")
B_UPLOAD = "bancs-minett"
B_LICENCE = ("https://creativecommons.org/licenses/by/4.0/", "CC BY 4.0 (Minett)")
ETALAB = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
SCHEMA = {
    "fields": [
        {"name": "nom", "type": "string"},
        {"name": "latitude", "type": "number"},
        {"name": "longitude", "type": "number"},
    ]
}


def _marks(tag: str) -> tuple[str, ...]:
    return (
        f"SL-{tag}",
        f"G-{tag}",
        f"TR-{tag}",
        f"AQ-{tag}",
        f"WC-{tag}",
        f"CPT-{tag}",
        f"PV-{tag}",
        f"epicerie-{tag.lower()}",
        f"Alerte {tag}",
        f"Budget {tag}",
        f"Projet {tag}",
        f"parking-{tag.lower()}",
        f"Rue {tag}",
    )


# What only the Minett's rows, set-up and publisher hold (its commune keys and names; not Esch's
# name: the common carpool places of the whole install include Esch-sur-Alzette's station).
B_MARKS = (
    *_marks("MINETT"),
    "L0204",
    "L0206",
    "Kayl",
    "Rumelange",
    B_UPLOAD,
    "Banc du Minett",
    "Réponse au lecteur du Minett",
    "Erreur signalée au Minett",
    "Communes d’Esch-sur-Alzette",
    B_LICENCE[0],
)
# What only the first territory's rows hold.
A_MARKS = (*_marks("VAL"), "57038", "54580", "Audun-le-Tiche", "Villerupt", ETALAB)


def _seed(
    s: Session, territory_id: int, tag: str, home: str, away: str, user_id: int, keeper: int
) -> None:
    """One row of every published kind for ``territory_id``, named with ``tag``, in its commune
    ``home`` (a carpool trip from ``home`` to ``away``)."""
    now = utcnow()
    here, there = s.get(Commune, home), s.get(Commune, away)
    assert here is not None and there is not None
    lat, lon = here.lat, here.lon
    s.add(
        Report(
            category="bulky_items",
            status="confirmed",
            lat=lat,
            lon=lon,
            commune_insee=home,
            territory_id=territory_id,
            created_at=now - dt.timedelta(days=1),
        )
    )
    s.add(
        LightGroup(id=f"G-{tag}", name=f"Rue {tag}", commune_insee=home, territory_id=territory_id)
    )
    s.flush()
    s.add(
        Streetlight(
            id=f"SL-{tag}-1",
            device_id=f"lamp-{tag}",
            commune_insee=home,
            group_id=f"G-{tag}",
            street=f"Rue {tag}",
            lat=lat,
            lon=lon,
            status="ok",
            actual_level=60,
            last_seen_at=now,
            territory_id=territory_id,
        )
    )
    s.add(LightEnergyMonth(month=now.strftime("%Y-%m"), group_id=f"G-{tag}", energy_wh=900.0))
    hour = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    sums = {
        "traffic": {"intensity": 2400, "occupancy": 0.8, "averageVehicleSpeed": 180},
        "air_quality": {"no2": 40, "pm10": 30, "pm25": 18, "o3": 90},
        "counter": {"pedestrian_in": 52, "bike_in": 7},
        "solar": {"power_w": 20000.0, "expected_w": 24000.0},
    }
    kinds = {"TR": "traffic", "AQ": "air_quality", "WC": "waste_centre", "CPT": "counter"}
    for prefix, kind in {**kinds, "PV": "solar"}.items():
        s.add(
            Sensor(
                id=f"{prefix}-{tag}",
                kind=kind,
                name=f"Capteur {tag}",
                commune_insee=home,
                lat=lat,
                lon=lon,
                meta="{}",
                last_values="{}",
                territory_id=territory_id,
            )
        )
        s.flush()
        if kind in sums:
            s.add(
                SensorHourly(
                    sensor_id=f"{prefix}-{tag}",
                    hour=hour,
                    samples=2,
                    sums_json=json.dumps(sums[kind]),
                )
            )
    s.add(WasteCentreEstimate(sensor_id=f"WC-{tag}", ts=hour, wait_min=4.0, method="queue"))
    s.add(
        Shop(
            owner_id=keeper,
            slug=f"epicerie-{tag.lower()}",
            name=f"Épicerie {tag}",
            category="grocery",
            address="1 place du Marché",
            commune_insee=home,
            lat=lat,
            lon=lon,
        )
    )
    s.add(
        Alert(
            identifier=f"eclor-{tag}",
            sender="eclor@example",
            sent_at=now,
            status="Actual",
            event="Fermeture de route",
            title=f"Alerte {tag}",
            body="Travaux.",
            instruction="",
            topic="traffic",
            communes=f",{home},",
            created_by=user_id,
            territory_id=territory_id,
        )
    )
    # (PostgreSQL keeps the first territory's places from one test to the next: added once.)
    place = f"parking-{tag.lower()}"
    if s.scalars(select(CarpoolPlace).where(col(CarpoolPlace.slug) == place)).first() is None:
        s.add(
            CarpoolPlace(
                slug=place,
                name=f"Parking {tag}",
                kind="park_ride",
                country=here.country,
                lat=lat + 0.2,
                lon=lon + 0.2,
                territory_id=territory_id,
            )
        )
    ad = CarpoolAd(
        user_id=user_id,
        role="driver",
        frequency="punctual",
        from_label="départ",
        from_lat=lat,
        from_lon=lon,
        to_label="arrivée",
        to_lat=there.lat,
        to_lon=there.lon,
        distance_m=6_000,
        cross_border=False,
        departure_at=now - dt.timedelta(hours=2),
        seats=1,
        seats_left=0,
        territory_id=territory_id,
    )
    s.add(ad)
    s.flush()
    s.add(
        CarpoolBooking(
            ad_id=ad.id,
            requester_id=user_id,
            owner_id=user_id,
            seats=1,
            status="accepted",
            accepted_at=now - dt.timedelta(days=1),
        )
    )
    budget = Budget(
        title=f"Budget {tag}",
        commune_insee=home,
        envelope=30_000,
        phase="vote",
        territory_id=territory_id,
    )
    s.add(budget)
    s.flush()
    project = BudgetProject(
        budget_id=budget.id, title=f"Projet {tag}", cost=18_000, status="feasible"
    )
    s.add(project)
    s.flush()
    assert budget.id is not None and project.id is not None
    budgets.cast(s, budgets.Vote(budget.id, [project.id], f"od-{tag}", home))
    budgets.move_phase(s, budget, "results")


@pytest.fixture
def two(app, engine, settings, personas) -> dict[str, Any]:
    """The first territory (A) and the Minett (B), each with a row of every published kind; B
    also has its own licence, an uploaded dataset, a reader's answered report and a dataset it
    chose not to publish (A publishes it)."""
    b_id = add_minett(engine)
    user_id = personas["resident"].id
    keepers = personas["merchant"].id, personas["other_merchant"].id
    with write_session(engine) as s:
        a_id = territories.default_territory(s).id
        s.execute(
            update(Territory)
            .where(col(Territory.id) == b_id)
            .values(opendata_licence=B_LICENCE[0], opendata_licence_name=B_LICENCE[1])
        )
        _seed(s, a_id, "VAL", "57038", "54580", user_id, keepers[0])
        _seed(s, b_id, "MINETT", "L0204", "L0206", user_id, keepers[1])
    territories.changed()
    with write_session(engine) as s:
        b = territories.read(s).by_slug["minett"]
        territories.bind(s, b)
        staff.add_upload(
            s,
            settings.var_dir,
            user_id,
            slug=B_UPLOAD,
            title="Bancs publics du Minett",
            description="Les bancs.",
            theme="REGI",
            keywords="bancs",
            frequency="IRREG",
            publish=True,
            schema_bytes=json.dumps(SCHEMA).encode(),
            filename="bancs.csv",
            data="nom,latitude,longitude\r\nBanc du Minett,49.49,5.98\r\n".encode(),
        )
        issue = staff.report_issue(
            s, settings.var_dir, "signalements", "Erreur signalée au Minett, ligne 2", None
        )
        staff.answer_issue(s, issue.id, "Réponse au lecteur du Minett", user_id)
        staff.set_published(s, settings.var_dir, "alertes", False, user_id)
        b_issue = issue.id
    snapshots.generate(engine, settings.var_dir, settings.base_url)
    return {"a": a_id, "b": b_id, "b_issue": b_issue, "b_branding": b}


def _leaks(text: str) -> list[str]:
    return [m for m in B_MARKS if m in text]


def _gets(path: str, two: dict[str, Any]) -> tuple[list[str], list[str]]:
    """For a GET path: (URLs that answer with A's open data, URLs naming B's that must not)."""
    if "{" not in path:
        return [path], []
    if path == "/data/{name:str}":
        ok: list[str] = []
        for dataset in registry.contributed():
            ok += [f"/data/{dataset.slug}", f"/data/{dataset.slug}.csv"]
            ok.append(f"/data/{dataset.slug}.schema.json")
            if dataset.geometry is not None:
                ok.append(f"/data/{dataset.slug}.geojson")
        b = [f"/data/{B_UPLOAD}{ext}" for ext in ("", ".csv", ".geojson", ".schema.json")]
        return ok, b
    if path == "/data/{slug:str}/live":
        return [], [f"/data/{B_UPLOAD}/live"]  # a live stream is tested through its rows below
    raise AssertionError(f"{path}: an open-data route this sweep has no sample for")


def _posts(path: str, two: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """For a POST path: requests naming B's rows, each to be refused."""
    fill: dict[str, list[tuple[str, dict[str, str]]]] = {
        "/data/{slug:str}/issues": [
            (f"/data/{B_UPLOAD}/issues", {"body": "Une erreur dans ce jeu de données."})
        ],
        "/staff/data/{slug:str}/publish": [(f"/staff/data/{B_UPLOAD}/publish", {"published": "0"})],
        "/staff/data/issues/{issue_id:int}/answer": [
            (f"/staff/data/issues/{two['b_issue']}/answer", {"answer": "Réponse d'un autre"})
        ],
        "/staff/data/upload": [],  # A's own dataset (a slug is unique within its territory)
    }
    if path not in fill:
        raise AssertionError(f"{path}: an open-data route that writes this sweep has no sample for")
    return fill[path]


def _state(engine: Any, b_id: int) -> list[Any]:
    with Session(engine) as s:
        return [
            sorted(
                (r.slug, r.published)
                for r in s.scalars(
                    select(OpenDataSetting).where(col(OpenDataSetting.territory_id) == b_id)
                )
            ),
            [
                (i.status, i.answer, i.answered_at)
                for i in s.scalars(select(OpenDataIssue).order_by(col(OpenDataIssue.id)))
            ],
            len(s.scalars(select(OpenDataUpload)).all()),
        ]


@pytest.mark.parametrize("who", ["staff", None])
def test_sweeping_every_open_data_route_on_one_territorys_host_finds_nothing_of_the_other(
    app, engine, client, personas, two, who
):
    c = personas[who].client if who else client
    routes = domain_routes(app, OPENDATA_DOMAIN)
    gets = [p for m, p in routes if m == "GET"]
    posts = [p for m, p in routes if m == "POST"]
    assert {"/data", "/data/catalog.ttl", "/staff/data", "/data/{name:str}"} <= set(gets)
    before = _state(engine, two["b"])
    read = 0
    for path in gets:
        ok, others = _gets(path, two)
        for url in ok:
            answer = c.get(url, follow_redirects=False)
            if who is None and path.startswith("/staff/"):
                assert refused(answer), (url, answer.status_code)
            else:
                assert answer.status_code == 200, (url, answer.status_code)
            assert not _leaks(answer.text), (url, _leaks(answer.text))
            read += 1
        for url in others:
            answer = c.get(url, follow_redirects=False)
            assert refused(answer), (url, answer.status_code)
            assert not _leaks(answer.text.replace(url, "")), url
    for path in posts:
        for url, form in _posts(path, two):
            answer = c.post_form(url, form)
            # Another territory's dataset or report is unknown here (a form answers 400 with why).
            assert refused(answer) or answer.status_code == 400, (url, answer.status_code)
            assert not _leaks(answer.text.replace(url, "")), url
    assert _state(engine, two["b"]) == before
    assert read > 3 * len(registry.contributed())
    # What the Minett chose not to publish is the Minett's choice only.
    assert c.get("/data/alertes.csv").status_code == 200
    assert "Alerte VAL" in c.get("/data/alertes.csv").text


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# The rows that show a dataset's territory (its commune, its ids or its titles).
B_HOLDS = {
    "signalements": "L0204",
    "eclairage-public-points-lumineux": "SL-MINETT-1",
    "eclairage-public-energie": "L0204",
    "dechetterie-temps-attente": "WC-MINETT",
    "trafic-frontalier": "TR-MINETT",
    "qualite-air": "AQ-MINETT",
    "comptages": "CPT-MINETT",
    "production-solaire": "PV-MINETT",
    "commerces": "epicerie-minett",
    "covoiturage-flux": "L0206",
    "covoiturage-lieux": "parking-minett",
    "budgets-participatifs": "Budget MINETT",
    B_UPLOAD: "Banc du Minett",
}


def test_each_distribution_of_the_other_host_holds_its_rows_and_not_the_first_territorys(
    client, two
):
    slugs = [d.slug for d in registry.contributed()] + [B_UPLOAD]
    assert set(B_HOLDS) <= set(slugs)
    for slug in slugs:
        if slug == "alertes":  # the Minett does not publish it
            assert client.get(f"/data/{slug}.csv", headers=ESCH).status_code == 404
            continue
        for fmt in ("csv", "geojson"):
            answer = client.get(f"/data/{slug}.{fmt}", headers=ESCH)
            if fmt == "geojson" and answer.status_code == 404:
                continue
            assert answer.status_code == 200, (slug, fmt)
            leaked = [m for m in A_MARKS if m in answer.text]
            assert not leaked, (slug, fmt, leaked)
            if slug in B_HOLDS:
                assert B_HOLDS[slug] in answer.text, (slug, fmt)
    daily = _rows(client.get("/data/signalements-quotidiens.csv", headers=ESCH).text)
    assert sum(int(r["nombre"]) for r in daily) == 1  # the Minett's one report
    first = _rows(client.get("/data/signalements-quotidiens.csv").text)
    assert sum(int(r["nombre"]) for r in first) == 1  # the first territory's one
    # The Minett's pages: its dataset, its reader's answer, its staff page.
    page = client.get(f"/data/{B_UPLOAD}", headers=ESCH)
    assert page.status_code == 200 and "Banc du Minett" in page.text
    answered = client.get("/data/signalements", headers=ESCH).text
    assert "Réponse au lecteur du Minett" in answered
    assert "Réponse au lecteur du Minett" not in client.get("/data/signalements").text


def _catalogue(client: Any, fmt: str, **kwargs: Any) -> Graph:
    answer = client.get(f"/data/catalog.{fmt}", **kwargs)
    assert answer.status_code == 200, answer.text
    return catalogue.parse(answer.content, fmt)


def test_each_hosts_catalogue_has_its_publisher_licence_communes_and_datasets(client, two):
    first, minett = _catalogue(client, "ttl"), _catalogue(client, "ttl", headers=ESCH)
    (a_cat,) = first.subjects(ns.RDF.type, ns.DCAT.Catalog)
    (b_cat,) = minett.subjects(ns.RDF.type, ns.DCAT.Catalog)
    # The first territory's catalogue is as a one-territory install gave it.
    assert str(first.value(a_cat, ns.DCTERMS.license)) == ETALAB
    a_publisher = first.value(a_cat, ns.DCTERMS.publisher)
    assert str(first.value(a_publisher, ns.FOAF.name)) == (
        "Communauté de communes Pays-Haut Val d'Alzette"
    )
    assert len(set(first.objects(a_cat, ns.DCTERMS.spatial))) == 8
    assert "esch.localhost" not in str(a_cat)
    # The Minett's: its publisher, its licence, its three communes, its address, its upload.
    assert str(minett.value(b_cat, ns.DCTERMS.license)) == B_LICENCE[0]
    b_publisher = minett.value(b_cat, ns.DCTERMS.publisher)
    assert str(minett.value(b_publisher, ns.FOAF.name)) == (
        "Communes d’Esch-sur-Alzette, de Kayl et de Rumelange"
    )
    assert str(minett.value(b_cat, ns.DCTERMS.title)) == (
        "Données ouvertes — Communes d’Esch-sur-Alzette, de Kayl et de Rumelange"
    )
    assert str(b_cat).startswith("http://esch.localhost")
    places = {
        str(minett.value(p, ns.SKOS.prefLabel)) for p in minett.objects(b_cat, ns.DCTERMS.spatial)
    }
    assert places == {"Esch-sur-Alzette", "Kayl", "Rumelange"}
    b_sets = {str(d) for d in minett.subjects(ns.RDF.type, ns.DCAT.Dataset)}
    a_sets = {str(d) for d in first.subjects(ns.RDF.type, ns.DCAT.Dataset)}
    assert any(d.endswith(f"/data/{B_UPLOAD}#dataset") for d in b_sets)
    assert not any(d.endswith("/data/alertes#dataset") for d in b_sets)
    assert any(d.endswith("/data/alertes#dataset") for d in a_sets)
    for fmt in ("jsonld", "ttl", "rdf"):
        text = client.get(f"/data/catalog.{fmt}").text
        assert not _leaks(text), (fmt, _leaks(text))
    # The pages say the same.
    index = client.get("/data", headers=ESCH).text
    assert B_LICENCE[1] in index and "Communes d’Esch-sur-Alzette" in index


def test_the_other_hosts_catalogue_passes_the_dcat_ap_3_shapes(client, two):
    from pyshacl import validate

    shapes = Graph().parse(SHAPES, format="turtle")
    _conforms, results, text = validate(
        _catalogue(client, "ttl", headers=ESCH),
        shacl_graph=shapes,
        inference="none",
        allow_warnings=True,
    )
    sh = Namespace("http://www.w3.org/ns/shacl#")
    violations = [
        r
        for r in results.subjects(ns.RDF.type, sh.ValidationResult)
        if results.value(r, sh.resultSeverity) == sh.Violation
    ]
    assert violations == [], text


def test_a_live_stream_sends_its_territorys_changes_only(engine, settings, two):
    with Session(engine) as s:
        reports = {
            r.territory_id: r.id
            for r in s.scalars(select(Report).where(col(Report.status) == "confirmed"))
        }
        a = territories.read(s).default
    events = [
        SimpleNamespace(id=n, layer="reports", kind="updated", feature_id=str(rid), payload={})
        for n, rid in enumerate((reports[two["a"]], reports[two["b"]]), start=1)
    ]
    base = settings.base_url
    mine = live.public_rows(engine, REPORTS, events, base, a)
    theirs = live.public_rows(engine, REPORTS, events, base, two["b_branding"])
    assert [event_id for event_id, _row in mine] == [1]
    assert [event_id for event_id, _row in theirs] == [2]
    assert theirs[0][1]["commune_insee"] == "L0204" and mine[0][1]["commune_insee"] == "57038"


def test_the_staff_page_of_each_host_shows_its_territorys_datasets_and_reports(personas, two):
    c = personas["staff"].client
    first = c.get("/staff/data").text
    assert "Erreur signalée au Minett" not in first and B_UPLOAD not in first
    # An upload under a slug the Minett already uses is the first territory's own dataset.
    upload = c.post(
        "/staff/data/upload",
        data={
            "_csrf_token": c.csrf_token(),
            "slug": B_UPLOAD,
            "title": "Bancs du Val",
            "description": "",
            "theme": "REGI",
            "keywords": "",
            "frequency": "IRREG",
            "published": "1",
        },
        files={
            "file": ("bancs.csv", b"nom,latitude,longitude\r\nBanc du Val,49.47,5.95\r\n"),
            "schema": ("schema.json", json.dumps(SCHEMA).encode()),
        },
        follow_redirects=False,
    )
    assert upload.status_code == 303, upload.text
    assert "Banc du Val" in c.get(f"/data/{B_UPLOAD}.csv").text
    theirs = c.get(f"/data/{B_UPLOAD}.csv", headers=ESCH).text
    assert "Banc du Minett" in theirs and "Banc du Val" not in theirs


def _described(engine: Any, territory_id: int) -> list[Any]:
    with Session(engine) as s:
        uploads = s.scalars(
            select(OpenDataUpload)
            .where(col(OpenDataUpload.territory_id) == territory_id)
            .order_by(col(OpenDataUpload.slug))
        )
        choices = s.scalars(
            select(OpenDataSetting)
            .where(col(OpenDataSetting.territory_id) == territory_id)
            .order_by(col(OpenDataSetting.slug))
        )
        return [
            [
                (u.slug, u.title, u.description, u.theme, u.keywords, u.frequency, u.table_schema)
                for u in uploads
            ],
            [(c.slug, c.published) for c in choices],
        ]


def test_a_territorys_dataset_descriptions_and_choices_travel_in_its_export(
    engine, settings, tmp_path, two
):
    with Session(engine) as s:
        bundle = export_bundle(s, "minett")
    with zipfile.ZipFile(io.BytesIO(bundle)) as z:
        uploads = json.loads(z.read("opendata_uploads.json"))
        choices = json.loads(z.read("opendata_settings.json"))
        names = z.namelist()
    assert [u["slug"] for u in uploads] == [B_UPLOAD] and "uploaded_by" not in uploads[0]
    assert {(c["slug"], c["published"]) for c in choices} == {(B_UPLOAD, True), ("alertes", False)}
    assert not any("Erreur signalée" in z for z in names)  # readers' reports stay
    other = fresh_database_url(tmp_path / "other")
    (tmp_path / "other").mkdir(exist_ok=True)
    upgrade(other)
    fresh = make_engine(other)
    try:
        with write_session(fresh) as s:
            imported = import_bundle(s, bundle).id
        assert _described(fresh, imported) == _described(engine, two["b"])
        # On the new install the dataset is described and published, its rows not uploaded yet.
        with Session(fresh) as s:
            minett = territories.read(s).by_slug["minett"]
        written = snapshots.generate(
            fresh, tmp_path / "other" / "var", settings.base_url, None, minett
        )
        assert {w.slug: w.rows for w in written}[B_UPLOAD] == 0
        assert "alertes" not in {w.slug for w in written}
        # A bundle whose dataset description cannot be read is refused, and nothing is written.
        for bad, message in (
            ({**uploads[0], "table_schema": "[1]"}, "Table Schema"),
            ({**uploads[0], "slug": "Bad slug"}, "invalide"),
            ({**uploads[0], "theme": "X" * 30}, "thème"),
        ):
            out = io.BytesIO()
            with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w") as dst:
                for name in src.namelist():
                    data = src.read(name)
                    if name == "opendata_uploads.json":
                        data = json.dumps([bad]).encode()
                    dst.writestr(name, data)
            with pytest.raises(SetupError, match=message), write_session(fresh) as s:
                import_bundle(s, out.getvalue())
    finally:
        fresh.dispose()
