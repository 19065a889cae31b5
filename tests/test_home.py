"""The PWA shell: home, about, offline page, manifest, service worker, health, language, headers."""

from __future__ import annotations

import json

from sqlalchemy import text


def test_the_home_page_renders_in_french_with_the_communes(client):
    r = client.get("/")
    assert r.status_code == 200
    assert '<html lang="fr">' in r.text
    assert "Signaler un dépôt sauvage" in r.text
    for name in ("Audun-le-Tiche", "Villerupt", "Rédange", "Boulange"):
        assert name in r.text
    assert 'hx-boost="true"' in r.text
    assert "x-csrftoken" in r.text


def test_the_home_page_switches_to_english_with_the_language_form(client):
    r = client.post_form("/lang", {"lang": "en", "next": "/about"})
    assert r.status_code == 303 and r.headers["location"] == "/about"
    r = client.get("/")
    assert '<html lang="en">' in r.text
    assert "Report an illegal dump" in r.text
    assert "Signaler un dépôt sauvage" not in r.text


def test_the_browser_language_is_used_when_no_choice_was_made(client):
    r = client.get("/", headers={"accept-language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in r.text
    r = client.get("/", headers={"accept-language": "de-DE"})
    assert '<html lang="fr">' in r.text


def test_the_language_form_refuses_to_redirect_elsewhere(client):
    r = client.post_form("/lang", {"lang": "en", "next": "//evil.example/"})
    assert r.headers["location"] == "/"


def test_security_headers_are_on_pages_and_on_errors(client):
    for path in ("/", "/does-not-exist", "/manifest.webmanifest", "/static/css/eclor.css"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
        assert "'unsafe-inline'" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in r.headers  # base URL is http in tests


def test_each_page_gets_its_own_script_nonce(client):
    a = client.get("/").headers["content-security-policy"]
    b = client.get("/").headers["content-security-policy"]
    assert "'nonce-" in a and a != b
    nonce = a.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' not in client.get("/").text  # a fresh page has a fresh nonce


def test_an_unknown_page_is_a_friendly_french_404(client):
    r = client.get("/nulle-part")
    assert r.status_code == 404
    assert "Page introuvable" in r.text and "Traceback" not in r.text


def test_a_request_for_an_unknown_host_is_refused(client):
    r = client.get("/", headers={"host": "evil.example"})
    assert r.status_code == 400


def test_the_manifest_makes_the_app_installable(client):
    r = client.get("/manifest.webmanifest")
    assert r.headers["content-type"].startswith("application/manifest+json")
    m = json.loads(r.text)
    for key in (
        "name",
        "short_name",
        "id",
        "start_url",
        "scope",
        "theme_color",
        "background_color",
    ):
        assert m[key], key
    assert m["display"] == "standalone" and m["lang"] == "fr" and m["scope"] == "/"
    sizes = {(i["sizes"], i["purpose"]) for i in m["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in m["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_the_service_worker_is_served_from_the_root_with_a_versioned_shell_cache(client):
    r = client.get("/sw.js")
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]
    assert r.headers["cache-control"] == "no-cache"
    body = r.text
    assert "__CACHE_VERSION__" not in body and "eclor-shell-" in body
    assert '"/offline"' in body
    precache = json.loads(body.split("const PRECACHE = ")[1].split(";\n")[0])
    for url in precache:
        assert client.get(url).status_code == 200, url


def test_the_offline_page_is_a_complete_page(client):
    r = client.get("/offline")
    assert r.status_code == 200 and "Pas de réseau pour le moment" in r.text


def test_static_files_are_cached_for_a_year_and_compressed(client):
    r = client.get("/static/vendor/htmx-2.0.11.min.js", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    assert "max-age=31536000" in r.headers["cache-control"]
    assert r.headers.get("content-encoding") == "gzip"


def test_healthz_answers_when_the_database_answers(client, engine):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {
        "status": "ok",
        "database": "ok",
        "worker": {"status": "none", "workers": 0},
    }


def test_healthz_says_503_when_the_database_is_gone(app, settings):
    from litestar.testing import TestClient

    from app.db import make_engine

    settings.database_url = "postgresql://nobody@127.0.0.1:9/none"
    broken = make_engine(settings.database_url)
    app.state.engine = broken
    with TestClient(app) as c:
        r = c.get("/healthz")
    assert r.status_code == 503 and r.json()["status"] == "error"


def test_the_about_page_states_the_legal_and_privacy_terms(client):
    r = client.get("/about")
    assert "Mentions légales" in r.text and "Vos données personnelles" in r.text


def test_the_signed_in_person_is_greeted_by_name(resident):
    r = resident.client.get("/")
    assert "Bonjour Julie" in r.text


def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine):
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_pages_are_gzipped_only_for_clients_that_accept_it(client):
    import gzip

    r = client.get("/about", headers={"accept-encoding": "gzip"})
    assert (
        r.headers["content-encoding"] == "gzip" and "accept-encoding" in r.headers["vary"].lower()
    )
    assert "Mentions légales" in r.text  # the client decompressed a valid gzip body
    raw = client.get("/about", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers and "Mentions légales" in raw.text
    assert len(gzip.compress(raw.content)) < len(raw.content)


def test_images_and_tiny_answers_are_not_gzipped(client):
    icon = client.get("/static/icons/icon-192.png", headers={"accept-encoding": "gzip"})
    assert icon.status_code == 200 and "content-encoding" not in icon.headers
    health = client.get("/healthz", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in health.headers and health.json()["status"] == "ok"


def test_pages_gzip_round_trips_whatever_their_size():
    """Pages are compressed by ISA-L (app.web.gzip_fast): plain gzip that any client reads."""
    import gzip

    from app.web import gzip_fast

    for body in (b"", b"<p>x</p>" * 70, "<p>é</p>".encode() * 1000, bytes(range(256)) * 4000):
        assert gzip.decompress(gzip_fast(body)) == body


def test_the_home_page_is_sent_gzipped_whole(client):
    import gzip

    with client.stream("GET", "/", headers={"accept-encoding": "gzip"}) as r:
        wire = b"".join(r.iter_raw())
        assert r.headers["content-encoding"] == "gzip"
        assert int(r.headers["content-length"]) == len(wire)
    page = gzip.decompress(wire).decode()
    assert page.rstrip().endswith("</html>") and len(wire) < len(page) / 2


def test_a_get_takes_its_csrf_token_from_its_cookie_alone(client):
    """A safe method uses the cookie's token (or a new one it sets), whatever else it sends."""
    first = client.get("/about")
    token = first.cookies.get("csrftoken")
    assert token and f'"x-csrftoken": "{token}"' in first.text
    client.cookies.set("csrftoken", token, domain="testserver.local")
    again = client.get("/about", headers={"x-csrftoken": "another"})
    assert "set-cookie" not in again.headers and f'"x-csrftoken": "{token}"' in again.text
    # A body on a GET is not read for a token (Litestar parsed a form there): still the page.
    for ctype in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        odd = client.request("GET", "/about", headers={"content-type": ctype}, content=b"--x\r\n")
        assert odd.status_code == 200 and f'"x-csrftoken": "{token}"' in odd.text
