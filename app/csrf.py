"""CSRF tokens bound to the session.

Litestar's CSRF check is a double submit: the token sent with a form must
equal the ``csrftoken`` cookie, and both must carry Eclor's signature. On its
own that token belongs to no one: a valid token obtained anywhere (another
account, a signed-out visit) and planted in a victim's browser would pass.

For a signed-in request Eclor therefore decides the token itself: it is
derived from the session (an HMAC of the session's cookie token under the
secret key), so it is worth nothing in any other session. ``EclorMiddleware``
puts this token in place of whatever ``csrftoken`` cookie the browser sent
(pages are rendered with it; a form posted with any other token is refused
by Litestar's check with 403) and sets the cookie to it whenever the browser
holds another one, in particular right after sign-in. Signed-out requests
keep the plain double submit (there is no session to bind to).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.datastructures.cookie import Cookie
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware.csrf import CSRFMiddleware, generate_csrf_hash, generate_csrf_token
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

COOKIE_NAME = "csrftoken"  # Litestar's CSRFConfig default, used by app.main


def session_token_for(secret: str, session_token: str) -> str:
    """The CSRF token of the session whose cookie token is ``session_token`` (Litestar's format)."""
    random_part = hmac.new(
        secret.encode(), b"eclor-csrf|" + session_token.encode(), hashlib.sha256
    ).hexdigest()
    return random_part + generate_csrf_hash(token=random_part, secret=secret)


def _cookie_parts(config: CSRFConfig) -> tuple[bytes, bytes]:
    """What comes before and after the token in the ``Set-Cookie`` header, as Litestar writes it.

    Written once by Litestar's ``Cookie`` (attributes, order, quoting) around a token of hex digits,
    as every token is: a header is then two concatenations instead of a dataclass, a deep copy
    and a ``SimpleCookie`` per response.
    """
    marker = "0123456789abcdef"
    header = Cookie(
        key=config.cookie_name,
        value=marker,
        path=config.cookie_path,
        secure=config.cookie_secure,
        httponly=config.cookie_httponly,
        samesite=config.cookie_samesite,
        domain=config.cookie_domain,
    ).to_header(header="")
    before, found, after = header.partition(marker)
    assert found, header
    return before.encode("latin-1"), after.encode("latin-1")


def config(secret: str, *, secure: bool) -> CSRFConfig:
    """Eclor's CSRF settings (Litestar's double submit, an HttpOnly SameSite=Lax cookie)."""
    return CSRFConfig(
        secret=secret,
        cookie_name=COOKIE_NAME,
        cookie_secure=secure,
        cookie_httponly=True,
        cookie_samesite="lax",
    )


@functools.lru_cache(maxsize=2)
def _parts_for(secure: bool) -> tuple[bytes, bytes]:
    return _cookie_parts(config("", secure=secure))


def cookie_header(token: str, *, secure: bool) -> tuple[bytes, bytes]:
    """The ``Set-Cookie`` header carrying ``token``, with the attributes of :func:`config`."""
    before, after = _parts_for(secure)
    return b"set-cookie", before + token.encode("latin-1") + after


class CsrfMiddleware(CSRFMiddleware):
    """Litestar's CSRF middleware (same checks, same cookie), its cookie header written directly.

    app.main installs it with :func:`config`. A response to a visitor without the cookie gets it
    (:func:`_cookie_parts`); a visitor who has it gets the response untouched, without a send
    wrapper.
    """

    def __init__(self, app: ASGIApp, config: CSRFConfig) -> None:
        super().__init__(app, config)
        self.cookie_parts = _cookie_parts(config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Litestar's check; a safe method (GET, HEAD, OPTIONS) goes straight to its token.

        Litestar parses the request's content type and looks for a token in its headers (and a
        form's body) before it looks at the method, and a safe method uses none of it: its token
        is the cookie's, or a new one that the response sets, as Litestar decides it.
        """
        handler = scope.get("route_handler")
        if (
            scope["type"] != ScopeType.HTTP
            or scope["method"] not in self.config.safe_methods
            or self.exclude is not None
            or (handler is not None and handler.opt.get(self.config.exclude_from_csrf_key))
        ):  # Litestar's own path, its exclusions included
            await super().__call__(scope, receive, send)
            return
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        csrf_cookie = connection.cookies.get(self.config.cookie_name)
        token = csrf_cookie or generate_csrf_token(secret=self.config.secret)
        ScopeState.from_scope(scope).csrf_token = token
        await self.app(scope, receive, self.create_send_wrapper(send, token, csrf_cookie))

    def create_send_wrapper(self, send: Send, token: str, csrf_cookie: str | None) -> Send:
        if csrf_cookie is not None:
            return send
        before, after = self.cookie_parts
        header = (b"set-cookie", before + token.encode("latin-1") + after)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        return send_with_cookie


def with_cookie(headers: list[tuple[bytes, bytes]], token: str) -> list[tuple[bytes, bytes]]:
    """Request headers whose one ``cookie`` header has ``csrftoken`` = ``token`` (others kept)."""
    pairs: list[str] = []
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name != b"cookie":
            out.append((name, value))
            continue
        for pair in value.decode("latin-1").split(";"):
            if pair.strip() and pair.strip().partition("=")[0] != COOKIE_NAME:
                pairs.append(pair.strip())
    pairs.append(f"{COOKIE_NAME}={token}")
    out.append((b"cookie", "; ".join(pairs).encode("latin-1")))
    return out


def new_session_token(headers: list[tuple[bytes, bytes]], session_cookie: str) -> str | None:
    """The session cookie token a response sets (sign-in, a new token), if it sets one."""
    prefix = f"{session_cookie}=".encode()
    for name, value in headers:
        if name.lower() == b"set-cookie" and value.startswith(prefix):
            token = value[len(prefix) :].split(b";", 1)[0].decode("latin-1").strip('"')
            return token or None
    return None
