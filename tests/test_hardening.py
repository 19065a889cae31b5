"""Edges an attacker found: e-mail headers, CSV cells, proxy headers."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from app import mail
from app.csvsafe import csv_cell
from app.db import write_session
from app.models.jobs import Job


def test_a_title_with_line_breaks_is_mailed_on_one_line_and_injects_no_header(engine, settings):
    import asyncio

    from workers import runner

    with write_session(engine) as s:
        mail.send_mail(
            s,
            "resident@eclor.test",
            "Votre signalement\r\nBcc: victime@example.org\nX-Evil: 1",
            "Bonjour",
        )
    asyncio.run(runner.run(settings, engine, once=True, install_signals=False, services=False))
    with write_session(engine) as s:
        job = s.scalars(select(Job).where(Job.kind == "mail.send")).one()
    assert job.status == "done", job.last_error
    sent = next(settings.mail_dir.glob("*.eml")).read_text()
    headers = sent.split("\n\n", 1)[0]
    assert "Subject: Votre signalement Bcc: victime@example.org X-Evil: 1" in headers
    assert "\nBcc:" not in headers and "\nX-Evil" not in headers


def test_header_values_lose_every_control_character():
    assert mail.header_value("a\rb\nc\x00d\u2028e\tf") == "a b c d e f"
    assert len(mail.header_value("x" * 1000)) == 250


def test_every_formula_prefix_is_guarded_wherever_a_cell_can_start():
    assert csv_cell("=1+1") == "'=1+1"
    assert csv_cell("  @SUM(A1)") == "'  @SUM(A1)"
    assert csv_cell('＝HYPERLINK("x")').startswith("'")
    assert (
        csv_cell('rue du Moulin;=HYPERLINK("http://x")') == 'rue du Moulin;\'=HYPERLINK("http://x")'
    )
    assert csv_cell("déchets, -2+3") == "déchets, '-2+3"
    assert csv_cell("ligne\n+cmd") == "ligne\n'+cmd"
    assert csv_cell("-5.95") == "-5.95" and csv_cell(12) == 12 and csv_cell("Sacs") == "Sacs"


def test_the_csv_export_of_reports_neutralises_a_formula_after_a_separator(resident, engine):
    from sqlalchemy import update

    from app.models.reports import Report
    from app.reports import catalogue, exports
    from tests.test_reports import make

    report_id = make(engine, resident.id)
    with write_session(engine) as s:
        s.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(description="Gravats;=cmd|' /C calc'!A0", address="rue, +33 1 23")
        )
    out = b"".join(exports.export_csv(engine, catalogue.Filters())).decode("utf-8")
    for delimiter in (
        ";",
        ",",
    ):  # however the spreadsheet splits the line, no cell starts a formula
        cells = [
            c
            for row in csv.reader(io.StringIO(out.lstrip("\ufeff")), delimiter=delimiter)
            for c in row
        ]
        risky = [
            c
            for c in cells
            if c.strip()
            and c.lstrip()[:1] in "=+@"
            or (c.lstrip()[:1] == "-" and not c.strip().lstrip("-").replace(".", "").isdigit())
        ]
        assert not risky, (delimiter, risky)


def _serve(settings, extra_env: dict[str, str]):
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    from tests.live_server import free_port

    port = free_port()
    env = dict(
        os.environ,
        ECLOR_ENV="test",
        ECLOR_DATABASE_URL=settings.database_url,
        ECLOR_VAR_DIR=str(settings.var_dir),
        ECLOR_SECRET_KEY=settings.secret_key,
        ECLOR_MQTT_EMBEDDED_PORT=str(free_port()),
        **extra_env,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # a loaded machine takes a while to import the whole app
    while True:
        try:
            if httpx.get(base + "/livez", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            proc.wait(timeout=20)
            raise AssertionError("eclor serve did not start")
        time.sleep(0.2)


def _signups_from_many_forwarded_addresses(base: str, n: int) -> list[int]:
    import httpx

    with httpx.Client(base_url=base, timeout=30) as c:
        token = c.get("/signup").cookies["csrftoken"]
        return [
            c.post(
                "/signup",
                data={"email": "not-an-email", "_csrf_token": token},
                headers={"x-forwarded-for": f"203.0.113.{i}"},
            ).status_code
            for i in range(n)
        ]


def test_forwarded_addresses_from_an_untrusted_peer_are_ignored_by_the_rate_limits(settings):
    proc, base = _serve(settings, {})
    try:
        answers = _signups_from_many_forwarded_addresses(base, 11)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert answers[:10] == [400] * 10 and answers[10] == 429, answers


def test_forwarded_addresses_from_a_configured_proxy_are_believed(settings):
    proc, base = _serve(settings, {"ECLOR_TRUSTED_PROXIES": '["127.0.0.1"]'})
    try:
        answers = _signups_from_many_forwarded_addresses(base, 11)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert answers == [400] * 11, "each client behind the proxy has its own count"


def test_a_path_id_no_row_can_have_is_a_missing_page_on_every_route(app, admin, client):
    """Ids past 2**63 are answered 404 (never an OverflowError or a database error as 500)."""
    import re

    from litestar.handlers import HTTPRouteHandler

    tried = []
    for route in app.routes:
        if not re.search(r"\{\w+:int\}", route.path) or re.search(r"\{\w+:(?!int\})", route.path):
            continue  # only paths whose every parameter is a whole number
        handlers = [
            h for h in getattr(route, "route_handlers", []) if isinstance(h, HTTPRouteHandler)
        ]
        if not any("GET" in h.http_methods for h in handlers):
            continue
        for huge in (2**63, 10**20, -(2**63) - 1):
            path = re.sub(r"\{\w+:int\}", str(huge), route.path)
            for who in (admin.client, client):
                status = who.get(path, follow_redirects=False).status_code
                assert status != 500, (path, status)
                if who is admin.client:
                    tried.append((path, status))
    paths = dict(tried)
    assert paths[f"/reports/{2**63}"] == 404 and paths[f"/carpool/ads/{10**20}"] == 404
    assert len({p for p, _s in tried}) >= 30  # every kind of page with an id was tried
    assert all(s in (404, 403) for _p, s in tried), [t for t in tried if t[1] not in (404, 403)]


def test_the_openapi_description_is_public_and_names_the_public_apis(client):
    for path in ("/schema", "/schema/openapi.json"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith(
            "application/vnd.oai.openapi+json"
        )
        doc = r.json()
        assert doc["openapi"].startswith("3.1") and doc["info"]["title"] == "Eclor"
        assert "/open311/v2/requests.json" in doc["paths"] or any(
            p.startswith("/open311/v2/requests") for p in doc["paths"]
        )
    yaml_doc = client.get("/schema/openapi.yaml")
    assert yaml_doc.status_code == 200 and "openapi: 3.1" in yaml_doc.text
    assert client.get("/schema/swagger").status_code == 404  # no viewer loading outside scripts
