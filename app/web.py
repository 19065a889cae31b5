"""The request pipeline every response goes through (errors included).

``EclorMiddleware`` (pure ASGI, cheap on the hot path):
- refuses hosts that are not allowed (Host header attacks),
- picks the locale (cookie ``lang``, then Accept-Language, then French),
- resolves the signed-in person from the session cookie,
- makes a CSP nonce and adds the security headers to every response.
"""

from __future__ import annotations

import secrets
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import anyio
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app import auth
from app.i18n import current_locale, pick_locale
from app.settings import Settings


def _cookies(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    jar: dict[str, str] = {}
    for name, value in headers:
        if name == b"cookie":
            try:
                parsed = SimpleCookie(value.decode("latin-1"))
            except CookieError:
                continue
            jar.update({k: m.value for k, m in parsed.items()})
    return jar


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> str | None:
    for name, value in headers:
        if name == wanted:
            return value.decode("latin-1")
    return None


class EclorMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, engine: Any) -> None:
        self.app = app
        self.settings = settings
        self.engine = engine
        base = urlsplit(settings.base_url)
        hosts = {h.lower() for h in settings.allowed_hosts}
        if base.hostname:
            hosts.add(base.hostname.lower())
        self.allowed_hosts = hosts
        self.allow_any_host = "*" in hosts
        tile_origin = "{0.scheme}://{0.netloc}".format(urlsplit(settings.tile_url.replace("{s}", "a")))
        tile_host = tile_origin.replace("://a.", "://*.") if "{s}" in settings.tile_url else tile_origin
        self.csp_template = (
            "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
            f"img-src 'self' data: blob: {tile_host}; connect-src 'self'; font-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; "
            "manifest-src 'self'; worker-src 'self'"
        )
        self.static_headers: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(self), geolocation=(self), microphone=()"),
        ]
        if settings.https:
            self.static_headers.append(
                (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
            )

    def _host_allowed(self, headers: list[tuple[bytes, bytes]]) -> bool:
        if self.allow_any_host:
            return True
        host = (_header(headers, b"host") or "").lower()
        if host.startswith("["):
            name = host.split("]")[0] + "]"
        else:
            name = host.rsplit(":", 1)[0] if ":" in host else host
        return name in self.allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]  # type: ignore[assignment]
        nonce = secrets.token_urlsafe(16)
        csp = self.csp_template.format(nonce=nonce).encode()
        extra = self.static_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = list(message.get("headers", []))
                present = {name.lower() for name, _ in out}
                if b"content-security-policy" not in present:
                    out.append((b"content-security-policy", csp))
                out.extend(h for h in extra if h[0] not in present)
                message["headers"] = out  # type: ignore[typeddict-item]
            await send(message)

        if not self._host_allowed(headers):
            await send_with_headers({"type": "http.response.start", "status": 400,
                                     "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send_with_headers({"type": "http.response.body",
                                     "body": "Hôte non autorisé / host not allowed.".encode()})
            return

        cookies = _cookies(headers)
        locale = pick_locale(cookies.get("lang"), _header(headers, b"accept-language"))
        token = current_locale.set(locale)
        scope["eclor_nonce"] = nonce  # type: ignore[typeddict-unknown-key]
        scope["eclor_locale"] = locale  # type: ignore[typeddict-unknown-key]
        user = None
        session_token = cookies.get(auth.SESSION_COOKIE)
        if session_token:
            user = await anyio.to_thread.run_sync(
                lambda: auth.load_user(self.engine, session_token,
                                       idle_minutes=self.settings.session_idle_minutes)
            )
        scope["eclor_user"] = user  # type: ignore[typeddict-unknown-key]
        scope["eclor_session_token"] = session_token if user else None  # type: ignore[typeddict-unknown-key]
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            current_locale.reset(token)
