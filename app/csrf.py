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

import hashlib
import hmac

from litestar.datastructures.cookie import Cookie
from litestar.middleware.csrf import generate_csrf_hash

COOKIE_NAME = "csrftoken"  # Litestar's CSRFConfig default, used by app.main


def session_token_for(secret: str, session_token: str) -> str:
    """The CSRF token of the session whose cookie token is ``session_token`` (Litestar's format)."""
    random_part = hmac.new(
        secret.encode(), b"eclor-csrf|" + session_token.encode(), hashlib.sha256
    ).hexdigest()
    return random_part + generate_csrf_hash(token=random_part, secret=secret)


def cookie_header(token: str, *, secure: bool) -> tuple[bytes, bytes]:
    """The ``Set-Cookie`` header carrying ``token``, with the attributes of app.main's CSRFConfig."""
    cookie = Cookie(
        key=COOKIE_NAME, value=token, path="/", secure=secure, httponly=True, samesite="lax"
    )
    return b"set-cookie", cookie.to_header(header="").encode("latin-1")


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
