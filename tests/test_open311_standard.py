"""Open311 GeoReport v2 as partners use it, checked against the spec's own JSON schemas.

Reports placed by a BAN ``address_id`` or an ``address_string`` read from the local BAN table
(loaded by ``eclor addresses load``), a report placed only by commune said to be so, one id
returned (not also a token), one charset, multi-value attributes, photos uploaded or given by
``media_url`` (fetched by the worker through the outbound guard), 405 with ``Allow``, and errors
in the one language of the request.
"""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image
from referencing import Registry
from sqlmodel import Session, select

from app.db import write_session
from app.models.reports import BanAddress, Report, ReportPhoto
from app.reports import ban, catalogue
from app.reports import workflow as rp

STANDARDS = Path(__file__).resolve().parents[2] / "shared" / "standards" / "open311"


def _schema(name: str) -> dict:
    return json.loads((STANDARDS / name).read_text())


def _registry() -> Registry:
    from referencing.jsonschema import DRAFT4

    return Registry().with_resources(
        (name, DRAFT4.create_resource(_schema(name)))
        for name in ("request.json", "requests.json", "service.json", "services.json")
    )


def validate(instance: object, name: str) -> None:
    from jsonschema.validators import Draft4Validator

    schema = _schema(name)
    Draft4Validator(schema, registry=_registry()).validate(instance)


@pytest.fixture
def api_key(engine) -> str:
    with write_session(engine) as s:
        _row, key = rp.issue_api_key(s, "Partenaire", None)
    return key


@pytest.fixture
def addresses(engine) -> None:
    with write_session(engine) as s:
        count, communes = ban.load(s, ban.DEMO_EXTRACT.read_bytes())
    assert count > 200 and len(communes) == 8


def run_addresses(settings, *argv: str) -> int:
    from app import domains
    from app.cli import build_parser

    (run,) = [c.run for c in domains.commands() if c.name == "addresses"]
    return run(build_parser().parse_args(["addresses", *argv]), settings)


def post(client, api_key: str, fmt: str = "json", files=None, **data: object):
    return client.post(
        f"/open311/v2/requests.{fmt}", data={"api_key": api_key, **data}, files=files
    )


def report_of(engine, body: list[dict]) -> Report:
    number = body[0]["service_request_id"]
    with Session(engine) as s:
        return s.get(Report, catalogue.id_from_number(number))


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 90, 40)).save(out, format="PNG")
    return out.getvalue()


def test_eclor_addresses_load_reads_a_ban_extract_for_the_territory_only(
    settings, engine, tmp_path, capsys
) -> None:
    extract = tmp_path / "adresses-57.csv"
    lines = ban.DEMO_EXTRACT.read_text().splitlines()
    paris = "75056_1234_00001;;1;;Rue de Rivoli;75001;75056;Paris;;;;;2.35;48.86;entrée;;;PARIS;RUE DE RIVOLI;demo;demo;;"
    extract.write_text("\n".join([*lines, paris]) + "\n")
    assert run_addresses(settings, "load", str(extract)) == 0
    assert f"{len(lines) - 1} addresses loaded for 8 communes" in capsys.readouterr().out
    assert run_addresses(settings, "load", str(extract)) == 0  # loading again replaces
    with Session(engine) as s:
        rows = s.scalars(select(BanAddress)).all()
    assert len(rows) == len(lines) - 1 and not any(r.commune_insee == "75056" for r in rows)
    bad = tmp_path / "bad.csv"
    bad.write_text("a;b;c\n1;2;3\n")
    assert run_addresses(settings, "load", str(bad)) == 2
    assert "not a BAN CSV extract" in capsys.readouterr().err


def test_a_report_placed_by_address_id_takes_the_ban_position_and_validates(
    engine, client, api_key, addresses
) -> None:
    with Session(engine) as s:
        row = s.get(BanAddress, "54580_0010_00027_bis")
        assert row is not None
        lat, lon = row.lat, row.lon
    answer = post(client, api_key, service_code="tyres", address_id="54580_0010_00027_bis")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body[0]) == {"service_request_id", "service_notice", "account_id"}  # no token
    report = report_of(engine, body)
    assert (report.lat, report.lon, report.address_id, report.approximate) == (
        lat,
        lon,
        "54580_0010_00027_bis",
        False,
    )
    assert report.address == "27 bis Rue Carnot, 54190 Villerupt"
    listed = client.get(f"/open311/v2/requests/{body[0]['service_request_id']}.json").json()
    validate(listed, "requests.json")
    assert listed[0]["address_id"] == "54580_0010_00027_bis"
    assert listed[0]["address"] == "Rue Carnot, 54190 Villerupt"  # the street, not the house
    assert listed[0]["lat"] == round(lat, catalogue.PUBLIC_DECIMALS)
    unknown = post(client, api_key, service_code="tyres", address_id="54580_9999_00001")
    assert unknown.status_code == 400 and "address_id" in unknown.json()[0]["description"]


@pytest.mark.parametrize(
    ("address", "precision", "address_id"),
    [
        ("8 rue Carnot, 54190 Villerupt", "housenumber", "54580_0010_00008"),
        ("27 bis, r. Carnot 54190", "housenumber", "54580_0010_00027_bis"),
        (
            "rue de la gare audun le tiche",
            "street",
            None,
        ),  # a street in two communes: the named one
        ("Rue Carnot, Villerupt", "street", None),
        ("57390 Russange", "commune", None),
        ("Derrière le stade de Thil", "commune", None),
    ],
)
def test_an_address_string_is_placed_by_the_ban_table(
    engine, client, api_key, addresses, address, precision, address_id
) -> None:
    with Session(engine) as s:
        place = ban.find(s, address)
    assert place is not None and (place.precision, place.address_id) == (precision, address_id)
    if "gare" in address:
        assert place.commune_insee == "57038"
    answer = post(client, api_key, service_code="rubble", address_string=address)
    assert answer.status_code == 201, answer.text
    report = report_of(engine, answer.json())
    row = client.get(f"/open311/v2/requests/{answer.json()[0]['service_request_id']}.json").json()
    validate(row, "requests.json")
    if precision == "commune":
        assert report.approximate and row[0]["lat"] is None and row[0]["long"] is None
        assert "commune seulement" in answer.json()[0]["service_notice"]
        assert "commune seulement" in row[0]["service_notice"]
    else:
        assert not report.approximate and row[0]["lat"] is not None
        assert row[0]["service_notice"] is None
    nowhere = post(client, api_key, service_code="rubble", address_string="10 rue de Rivoli Paris")
    assert nowhere.status_code == 400


def test_one_charset_in_each_content_type(client) -> None:
    for fmt in ("json", "xml"):
        for path in ("discovery", "services", "requests", "nothing"):
            answer = client.get(f"/open311/v2/{path}.{fmt}")
            content_type = answer.headers["content-type"]
            assert content_type.lower().count("charset") <= 1, content_type
            if fmt == "xml":
                assert content_type == "text/xml; charset=utf-8"


def test_a_multi_value_attribute_takes_every_value(engine, client, api_key) -> None:
    definition = client.get("/open311/v2/services/tyres.json").json()
    contents = next(a for a in definition["attributes"] if a["code"] == "contents")
    assert contents["datatype"] == "multivaluelist"
    answer = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": api_key,
            "service_code": "tyres",
            "lat": "49.4675",
            "long": "5.9290",
            "description": "Au bord du chemin",
            "attribute[contents][]": ["tyres", "rubble"],
        },
    )
    assert answer.status_code == 201, answer.text
    report = report_of(engine, answer.json())
    assert report.description == "Au bord du chemin\nContenu : Pneus, Gravats"
    refused = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": api_key,
            "service_code": "tyres",
            "lat": "49.4675",
            "long": "5.9290",
            "attribute[contents][]": ["tyres", "plutonium"],
        },
    )
    assert refused.status_code == 400 and "plutonium" in refused.json()[0]["description"]


class _Picture(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/photo.png":
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_uploaded_files_and_partner_media_urls_are_kept_as_photos(
    settings, engine, client, api_key
) -> None:
    from tests.test_fanout import run_worker

    uploaded = client.post(
        "/open311/v2/requests.json",
        data={"api_key": api_key, "service_code": "tyres", "lat": "49.4675", "long": "5.9290"},
        files={"media": ("photo.png", png(), "image/png")},
    )
    assert uploaded.status_code == 201, uploaded.text
    first = report_of(engine, uploaded.json())
    _Picture.body = png()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Picture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/photo.png"
        given = post(
            client, api_key, service_code="tyres", lat="49.4675", long="5.9290", media_url=url
        )
        missing = post(
            client,
            api_key,
            service_code="tyres",
            lat="49.4675",
            long="5.9290",
            media_url=url.replace("photo.png", "gone.png"),
        )
        assert given.status_code == missing.status_code == 201
        second, third = report_of(engine, given.json()), report_of(engine, missing.json())
        with Session(engine) as s:
            assert (
                s.scalars(select(ReportPhoto).where(ReportPhoto.report_id == second.id)).all() == []
            )
        run_worker(settings, engine)  # the worker fetches the picture, not the request
    finally:
        server.shutdown()
    with Session(engine) as s:
        photos = {
            r.id: len(s.scalars(select(ReportPhoto).where(ReportPhoto.report_id == r.id)).all())
            for r in (first, second, third)
        }
    assert photos == {first.id: 1, second.id: 1, third.id: 0}
    listed = client.get(f"/open311/v2/requests/{given.json()[0]['service_request_id']}.json")
    media_url = listed.json()[0]["media_url"]
    assert media_url and "/reports/photos/" in media_url
    assert (
        client.get(
            media_url.split("testserver.local")[-1]
            if "testserver" in media_url
            else "/" + media_url.split("/", 3)[-1]
        ).status_code
        == 200
    )


def test_methods_the_spec_does_not_have_answer_405_with_allow(client) -> None:
    for method, path, allow in (
        ("PUT", "/open311/v2/requests.json", "GET, POST"),
        ("DELETE", "/open311/v2/requests.xml", "GET, POST"),
        ("PATCH", "/open311/v2/requests/PHVA-2026-000001.json", "GET"),
        ("POST", "/open311/v2/services.json", "GET"),
        ("POST", "/open311/v2/discovery.xml", "GET"),
    ):
        answer = client.request(method, path)
        assert answer.status_code == 405, (method, path, answer.status_code)
        if path.startswith("/open311/v2/services.") or "discovery" in path:
            continue  # answered by the handler
        assert answer.headers["allow"] == allow


def test_errors_speak_the_one_language_of_the_request(client, api_key) -> None:
    bad = {
        "api_key": api_key,
        "service_code": "tyres",
        "attribute[volume]": "ocean",
        "lat": "49.4675",
        "long": "5.9290",
    }
    french = client.post("/open311/v2/requests.json", data=bad).json()[0]["description"]
    english = client.post(
        "/open311/v2/requests.json", data=bad, headers={"Accept-Language": "en-GB,en;q=0.8"}
    ).json()[0]["description"]
    assert french.startswith("attribute[volume] doit valoir")
    assert english.startswith("attribute[volume] must be")
    for path in (
        "/open311/v2/requests.json?status=pending",
        "/open311/v2/services/x.json",
        "/open311/v2/tokens/nope.json",
        "/open311/v2/requests.csv",
    ):
        fr = client.get(path).json()[0]["description"]
        en = client.get(path, headers={"Accept-Language": "en"}).json()[0]["description"]
        assert fr != en, path
    outside = client.post(
        "/open311/v2/requests.json",
        data={"api_key": api_key, "service_code": "tyres", "lat": "48.8566", "long": "2.3522"},
        headers={"Accept-Language": "en"},
    ).json()[0]["description"]
    assert "territory" in outside and "territoire" not in outside
