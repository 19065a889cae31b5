"""OpenID Connect sign-in (FranceConnect, the authority's identity provider...), through authlib.

The one module that talks to authlib and to providers:

- ``begin()`` starts an authorization code flow with PKCE (S256): it keeps
  ``state``, ``nonce`` (43 characters each) and the code verifier server-side
  in ``oidc_logins``, bound to the browser by a random cookie, and returns the
  provider's authorization URL.
- ``finish()`` takes the callback: the state must match a row made for this
  browser and this provider (the row is deleted on first use), the code is
  exchanged with the verifier, and the ID token's signature (the provider's
  JWKS), ``iss``, ``aud`` (and ``azp``), ``exp``, ``iat`` and ``nonce`` are
  verified before anything else is read from it.
- ``account_for()`` finds the account bound to (issuer, subject), or creates
  one; it never links an account because an e-mail address matches.

Every request to a provider (discovery, keys, token) goes through
``app.outbound.fetch``: public addresses only, answers capped, no redirect
followed; a provider configured with ``private_network`` may be reached on a
private address at its own host, and only there.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet, KeySetSerialization
from joserfc.jws import JWSRegistry
from sqlalchemy import delete
from sqlmodel import Session, col, select

from app import auth, outbound
from app.db import saved_id, utcnow
from app.models.accounts import Identity, OIDCLogin, User
from app.settings import OIDCProvider, Settings

log = logging.getLogger("eclor.oidc")

BINDING_COOKIE = "eclor_oidc"
LOGIN_TTL = timedelta(minutes=10)
LEEWAY_S = 60
HTTP_TIMEOUT_S = 10.0
METADATA_TTL_S = 3600.0
# Asymmetric signatures only: an ID token signed with the client secret (HS*) or unsigned is refused.
ALLOWED_ALGS = [
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
]


class OIDCError(Exception):
    """The sign-in cannot go on; ``reason`` is for the log, the person gets a French message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedLogin:
    provider: OIDCProvider
    issuer: str
    subject: str
    claims: dict[str, Any]
    next_url: str
    link_user_id: int | None


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def providers(settings: Settings, territory: str | None = None) -> list[OIDCProvider]:
    """The configured providers; with ``territory`` (a slug), those its hosts offer."""
    return [p for p in settings.oidc_providers if territory is None or p.offered_on(territory)]


def provider(settings: Settings, name: str, territory: str | None = None) -> OIDCProvider | None:
    """The provider ``name``, if configured (and offered on the ``territory``'s hosts, when given)."""
    return next((p for p in providers(settings, territory) if p.name == name), None)


def redirect_uri(base_url: str, prov: OIDCProvider) -> str:
    """Where the provider sends the person back: on the host the sign-in started on (``base_url``,
    that host's address), so the browser's binding cookie is there."""
    return f"{base_url.rstrip('/')}/login/oidc/{prov.name}/callback"


# --- provider metadata and keys (cached per process) ------------------------------------

_cache_lock = threading.Lock()
_metadata: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks: dict[str, KeySetSerialization] = {}


def reach(settings: Settings, prov: OIDCProvider) -> outbound.Reach:
    """Where requests for ``prov`` may go: public addresses (loopback outside production), and its
    own host on a private address when the settings say it sits on the authority's network."""
    return outbound.Reach(
        allow_loopback=settings.outbound_allows_loopback,
        private_host=prov.host if prov.private_network else "",
    )


FETCH_ERRORS = (httpx.HTTPError, ValueError)  # outbound.NotPublic and AnswerTooLarge included


def metadata(prov: OIDCProvider, where: outbound.Reach) -> dict[str, Any]:
    """The provider's discovery document (cached for an hour), fetched through the outbound guard."""
    url = prov.metadata_url
    with _cache_lock:
        cached = _metadata.get(url)
    if cached and time.monotonic() - cached[0] < METADATA_TTL_S:
        return cached[1]
    try:
        resp = outbound.fetch("GET", url, reach=where, timeout=HTTP_TIMEOUT_S)
        resp.raise_for_status()
        doc = resp.json()
    except FETCH_ERRORS as exc:
        raise OIDCError(f"discovery failed for {prov.name}: {exc}") from exc
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(doc.get(key), str):
            raise OIDCError(f"discovery document of {prov.name} lacks {key}")
    if prov.issuer and doc["issuer"].rstrip("/") != prov.issuer.rstrip("/"):
        raise OIDCError(f"discovery issuer {doc['issuer']!r} is not the configured {prov.issuer!r}")
    with _cache_lock:
        _metadata[url] = (time.monotonic(), doc)
    return doc


def _key_set(meta: dict[str, Any], where: outbound.Reach, *, refresh: bool = False) -> KeySet:
    uri = meta["jwks_uri"]
    with _cache_lock:
        data = None if refresh else _jwks.get(uri)
    if data is None:
        try:
            resp = outbound.fetch("GET", uri, reach=where, timeout=HTTP_TIMEOUT_S)
            resp.raise_for_status()
            data = resp.json()
        except FETCH_ERRORS as exc:
            raise OIDCError(f"JWKS fetch failed: {exc}") from exc
        with _cache_lock:
            _jwks[uri] = data
    return KeySet.import_key_set(data)


# --- the flow ----------------------------------------------------------------------------------


def begin(
    session: Session,
    settings: Settings,
    prov: OIDCProvider,
    *,
    browser_token: str,
    next_url: str = "/",
    link_user_id: int | None = None,
    base_url: str | None = None,
) -> str:
    """Record a pending sign-in and return the provider's authorization URL (coming back to
    ``base_url``, by default the install's)."""
    meta = metadata(prov, reach(settings, prov))
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    now = utcnow()
    session.execute(delete(OIDCLogin).where(col(OIDCLogin.expires_at) < now))
    session.add(
        OIDCLogin(
            id=_digest(state),
            provider=prov.name,
            nonce=nonce,
            code_verifier=verifier,
            browser=_digest(browser_token),
            next_url=next_url[:500],
            link_user_id=link_user_id,
            created_at=now,
            expires_at=now + LOGIN_TTL,
        )
    )
    return add_params_to_uri(
        meta["authorization_endpoint"],
        [
            ("response_type", "code"),
            ("client_id", prov.client_id),
            ("redirect_uri", redirect_uri(base_url or settings.base_url, prov)),
            ("scope", " ".join(prov.scopes)),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", create_s256_code_challenge(verifier)),
            ("code_challenge_method", "S256"),
        ],
    )


def take_login(
    session: Session, prov: OIDCProvider, state: str, browser_token: str | None
) -> OIDCLogin:
    """The pending sign-in of this state, deleted now (single use); refused if it is not this browser's."""
    if not state or len(state) > 200:
        raise OIDCError("missing state")
    row = session.get(OIDCLogin, _digest(state))
    if row is None:
        raise OIDCError("unknown or already used state")
    session.delete(row)
    session.flush()
    if row.provider != prov.name:
        raise OIDCError("state was issued for another provider")
    if row.expires_at <= utcnow():
        raise OIDCError("state expired")
    if not browser_token or not secrets.compare_digest(row.browser, _digest(browser_token)):
        raise OIDCError("state is bound to another browser")
    return row


def exchange_and_verify(
    settings: Settings,
    prov: OIDCProvider,
    login: OIDCLogin,
    code: str,
    base_url: str | None = None,
) -> VerifiedLogin:
    """Trade the code for tokens (with the PKCE verifier) and verify the ID token."""
    if not code or len(code) > 2000:
        raise OIDCError("missing code")
    where = reach(settings, prov)
    meta = metadata(prov, where)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(base_url or settings.base_url, prov),
        "code_verifier": login.code_verifier,
    }
    auth_: tuple[str, str] | None = None
    if prov.token_auth_method == "client_secret_basic":
        auth_ = (prov.client_id, prov.client_secret)
    else:
        form["client_id"] = prov.client_id
        if prov.token_auth_method == "client_secret_post":
            form["client_secret"] = prov.client_secret
    try:
        resp = outbound.fetch(
            "POST",
            meta["token_endpoint"],
            reach=where,
            data=form,
            auth=auth_,
            timeout=HTTP_TIMEOUT_S,
            headers={"accept": "application/json"},
        )
        token = resp.json()
    except FETCH_ERRORS as exc:
        raise OIDCError(f"token request failed: {exc}") from exc
    if resp.status_code != 200 or not isinstance(token, dict):
        raise OIDCError(f"token request refused ({resp.status_code}): {str(token)[:200]}")
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise OIDCError("no id_token in the token response")
    claims = verify_id_token(
        meta, prov, id_token, where, nonce=login.nonce, access_token=token.get("access_token")
    )
    return VerifiedLogin(
        prov, claims["iss"], str(claims["sub"]), claims, login.next_url, login.link_user_id
    )


def verify_id_token(
    meta: dict[str, Any],
    prov: OIDCProvider,
    id_token: str,
    where: outbound.Reach,
    *,
    nonce: str,
    access_token: str | None = None,
) -> dict[str, Any]:
    """Check the signature with the provider's keys, then iss, aud/azp, exp, iat and nonce."""
    algs = [
        a
        for a in meta.get("id_token_signing_alg_values_supported", ALLOWED_ALGS)
        if a in ALLOWED_ALGS
    ]
    registry = JWSRegistry(algorithms=algs or ["RS256"])
    try:
        try:
            decoded = jwt.decode(id_token, _key_set(meta, where), registry=registry)
        except InvalidKeyIdError:
            decoded = jwt.decode(id_token, _key_set(meta, where, refresh=True), registry=registry)
    except (JoseError, ValueError) as exc:
        raise OIDCError(f"ID token signature refused: {exc}") from exc
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": meta["issuer"]},
        "aud": {"essential": True, "value": prov.client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True, "value": nonce},
    }
    params: dict[str, Any] = {"nonce": nonce, "client_id": prov.client_id}
    if access_token:
        params["access_token"] = access_token
    id_claims = CodeIDToken(decoded.claims, decoded.header, options, params)
    try:
        id_claims.validate(leeway=LEEWAY_S)
    except (JoseError, ValueError) as exc:
        raise OIDCError(f"ID token claims refused: {exc}") from exc
    if (
        not isinstance(id_claims.get("sub"), str)
        or not id_claims["sub"]
        or len(id_claims["sub"]) > 255
    ):
        raise OIDCError("ID token subject is unusable")
    return dict(id_claims)


def account_for(session: Session, login: VerifiedLogin, territory_id: int | None = None) -> User:
    """The account bound to (issuer, subject); a new one if none (never matched by e-mail). A new
    account of a role other than resident works for ``territory_id`` (the host's territory)."""
    now = utcnow()
    identity = session.scalars(
        select(Identity).where(
            col(Identity.issuer) == login.issuer, col(Identity.subject) == login.subject
        )
    ).first()
    if login.link_user_id is not None:
        if identity is not None and identity.user_id != login.link_user_id:
            raise OIDCError("this identity already belongs to another account")
        if identity is None:
            session.add(
                Identity(
                    user_id=login.link_user_id,
                    provider=login.provider.name,
                    issuer=login.issuer,
                    subject=login.subject,
                    created_at=now,
                    last_used_at=now,
                )
            )
        user = session.get(User, login.link_user_id)
        if user is None or not user.is_active:
            raise OIDCError("the account to link is gone")
        return user
    if identity is not None:
        user = session.get(User, identity.user_id)
        if user is None or not user.is_active:
            raise OIDCError("the account of this identity is disabled")
        identity.last_used_at = now
        session.add(identity)
        return user
    email = _new_account_email(session, login)
    name = str(login.claims.get("given_name") or login.claims.get("name") or "")[:80]
    user = auth.create_user(session, email, role=login.provider.role, display_name=name)
    if user.role != "resident" and territory_id is not None:
        user.territory_id = territory_id
        session.add(user)
    session.add(
        Identity(
            user_id=saved_id(user),
            provider=login.provider.name,
            issuer=login.issuer,
            subject=login.subject,
            created_at=now,
            last_used_at=now,
        )
    )
    session.flush()
    return user


class EmailTaken(OIDCError):
    """A password account already uses the provider's e-mail address: the person must link it themselves."""


def _new_account_email(session: Session, login: VerifiedLogin) -> str:
    email = login.claims.get("email")
    if isinstance(email, str) and "@" in email and len(email) <= 254:
        email = auth.normalise_email(email)
        if (
            session.scalars(select(col(User.id)).where(col(User.email) == email)).first()
            is not None
        ):
            raise EmailTaken("an account already uses this e-mail address")
        return email
    # No usable address from the provider: a unique placeholder the person can change later.
    return f"{_digest(login.issuer + '|' + login.subject)[:24]}@oidc.invalid"
