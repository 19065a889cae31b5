"""The security baseline: CSRF on every unsafe route, headers and friendly pages on every error,
HSTS behind https, allowed hosts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import get
from litestar.routes import HTTPRoute

from app.errors import API_PREFIXES
from app.main import create_app
from tests.cheap_hashing import cheap_argon2  # noqa: F401  (autouse)
from tests.conftest import EclorClient

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_MESSAGE = "le formulaire a expiré"


def unsafe_routes(app: Any) -> list[tuple[str, str, bool]]:
    """(method, path with placeholders filled, exempt from CSRF) for every unsafe route of the app."""
    out = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _model) in route.route_handler_map.items():
            if method not in UNSAFE:
                continue
            path = re.sub(r"\{([^}:]*):int\}", "1", route.path)
            path = re.sub(r"\{[^}]*\}", "x", path)
            out.append((method, path, bool(handler.opt.get("exclude_from_csrf"))))
    return sorted(out)


def assert_secure_headers(response: Any) -> None:
    csp = response.headers["content-security-policy"]
    assert re.search(r"script-src 'self' 'nonce-[A-Za-z0-9_-]{16,}'", csp)
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]


def assert_friendly(response: Any, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    body = response.text
    assert '<html lang="fr">' in body and f'<p class="error-code">{status}</p>' in body
    for leak in ("Traceback", 'File "', "sqlalchemy", "litestar", "Exception"):
        assert leak not in body
    assert_secure_headers(response)
    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"]).group(1)
    assert f'nonce="{nonce}"' in body  # the page's scripts carry this response's nonce


# --- CSRF ------------------------------------------------------------------------------------------


def test_the_app_has_unsafe_routes_to_check(app):
    assert len([r for r in unsafe_routes(app) if not r[2]]) >= 10


def test_a_request_without_its_csrf_token_is_refused_on_every_unsafe_route(app, admin):
    """Signed in as admin (so access rules would let most through), with the CSRF cookie but no token."""
    client = admin.client
    client.csrf_token()  # the browser holds the cookie, as it would on a cross-site forged request
    accepted = []
    for method, path, exempt in unsafe_routes(app):
        if exempt:
            continue
        response = client.request(method, path, data={"anything": "1"}, follow_redirects=False)
        if response.status_code != 403 or CSRF_MESSAGE not in response.text:
            accepted.append(f"{method} {path}: {response.status_code}")
        response = client.request(
            method, path, data={"_csrf_token": "forged-token"}, follow_redirects=False
        )
        if response.status_code != 403:
            accepted.append(f"{method} {path} with a forged token: {response.status_code}")
    assert not accepted, (
        "unsafe routes that accepted a request without a valid CSRF token:\n" + "\n".join(accepted)
    )


def test_routes_exempt_from_csrf_are_machine_apis_only(app):
    exempt = [(m, p) for m, p, e in unsafe_routes(app) if e]
    assert all(p.startswith(API_PREFIXES) for _m, p in exempt), exempt


def test_the_token_in_the_htmx_header_is_accepted(resident):
    token = resident.client.csrf_token()
    r = resident.client.post("/logout", headers={"x-csrftoken": token}, follow_redirects=False)
    assert r.status_code == 303


# --- error pages ------------------------------------------------------------------------------------


def test_a_404_is_a_friendly_page_with_the_security_headers(client):
    assert_friendly(client.get("/no-such-page"), 404)


def test_a_403_is_a_friendly_page_with_the_security_headers(resident):
    assert_friendly(resident.client.get("/admin/users"), 403)


def test_a_429_is_a_friendly_page_with_retry_after(client):
    for _ in range(10):
        client.post_form("/login", {"email": "x@eclor.test", "password": "wrong"})
    r = client.post_form("/login", {"email": "x@eclor.test", "password": "wrong"})
    assert_friendly(r, 429)
    assert int(r.headers["retry-after"]) > 0


def test_a_413_is_a_friendly_page(settings, engine):
    settings.max_upload_bytes = 1000  # the body cap is 4 × this
    small = create_app(settings, engine)
    with EclorClient(app=small) as client:
        r = client.post_form("/signup", {"email": "a@eclor.test", "display_name": "x" * 10_000})
    assert_friendly(r, 413)


def test_a_500_is_a_friendly_page_without_traceback(app, client):
    @get("/boom-for-test", opt={"access": "public"}, sync_to_thread=False)
    def boom() -> str:
        raise RuntimeError("secret internal detail /etc/passwd")

    app.register(boom)
    r = client.get("/boom-for-test")
    assert_friendly(r, 500)
    assert "secret internal detail" not in r.text


def test_hsts_is_sent_when_the_base_url_is_https(settings, engine):
    settings.base_url = "https://eclor.example"
    secure = create_app(settings, engine)
    with EclorClient(app=secure, base_url="https://eclor.example") as client:
        for r in (client.get("/login"), client.get("/nope")):
            assert "max-age=" in r.headers["strict-transport-security"]
        cookie = client.get("/login").headers.get("set-cookie", "")
        assert "csrftoken" not in cookie or "Secure" in cookie


def test_no_hsts_over_plain_http(client):
    assert "strict-transport-security" not in client.get("/login").headers


def test_an_unknown_host_is_refused_with_the_headers(client):
    r = client.get("/login", headers={"host": "evil.example"})
    assert r.status_code == 400
    assert_secure_headers(r)


@pytest.mark.parametrize(
    "path", ["/login", "/password/forgot", "/privacy", "/terms", "/account-deleted"]
)
def test_account_pages_carry_the_security_headers_and_no_inline_script(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert_secure_headers(r)
    nonce = re.search(r"'nonce-([^']+)'", r.headers["content-security-policy"]).group(1)
    for tag in re.findall(r"<script[^>]*>", r.text):
        assert f'nonce="{nonce}"' in tag and "src=" in tag
    assert " style=" not in r.text and "<style" not in r.text
