"""A real OpenID provider for the tests, served in the test process.

It is ``oidc-provider-mock`` (authlib's server parts behind Flask) with two
additions made through Flask hooks:

- PKCE is enforced: the ``code_challenge`` sent to the authorization endpoint
  is remembered per code, and the token endpoint refuses a missing or wrong
  ``code_verifier`` (S256 only);
- ``faults`` makes the provider misbehave on purpose: it re-signs the ID
  token it issues, with its own key, after changing a claim (``aud``,
  ``exp``, ``nonce``, ``iss``), or signs it with a key it does not publish
  (``signature``). That is how a relying party proves it checks each claim.
  ``keys_at`` names another host for the key set in the discovery document.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import flask
from joserfc import jwt
from joserfc.jwk import RSAKey

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # the provider runs over http on localhost

import oidc_provider_mock


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


@dataclass
class Provider:
    url: str = ""
    faults: dict[str, Any] = field(default_factory=dict)
    challenges: dict[str, tuple[str, str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    rogue_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, private=True))

    @property
    def issuer(self) -> str:
        return self.url

    def install(self, app: flask.Flask) -> None:
        @app.before_request
        def check_pkce() -> Any:
            if (
                flask.request.path != "/oauth2/token"
                or flask.request.form.get("grant_type") != "authorization_code"
            ):
                return None
            form = {k: v for k, v in flask.request.form.items()}
            self.token_requests.append(form)
            code = form.get("code", "")
            challenge = self.challenges.get(code)
            verifier = form.get("code_verifier", "")
            if challenge is None or challenge[1] != "S256" or s256(verifier) != challenge[0]:
                return flask.jsonify(
                    {"error": "invalid_grant", "error_description": "PKCE verification failed"}
                ), 400
            return None

        @app.after_request
        def after(response: flask.Response) -> flask.Response:
            path = flask.request.path
            if (
                path == "/oauth2/authorize"
                and flask.request.method == "POST"
                and response.status_code in (302, 303)
            ):
                query = parse_qs(urlsplit(response.headers.get("location", "")).query)
                if "code" in query:
                    self.challenges[query["code"][0]] = (
                        flask.request.args.get("code_challenge", ""),
                        flask.request.args.get("code_challenge_method", "plain"),
                    )
            if path.endswith("/openid-configuration") and "keys_at" in self.faults:
                # The discovery document sends the keys to another host (``keys_at``).
                doc = json.loads(response.get_data())
                parts = urlsplit(doc["jwks_uri"])
                doc["jwks_uri"] = parts._replace(
                    netloc=f"{self.faults['keys_at']}:{parts.port}"
                ).geturl()
                response.set_data(json.dumps(doc))
            if path == "/oauth2/token" and response.status_code == 200 and self.faults:
                body = json.loads(response.get_data())
                if "id_token" in body:
                    body["id_token"] = self._tamper(body["id_token"])
                    response.set_data(json.dumps(body))
            return response

    def _tamper(self, id_token: str) -> str:
        storage = flask.g.oidc_provider_mock_storage
        key = RSAKey.import_key(storage.jwk.as_dict(is_private=True))
        token = jwt.decode(id_token, key)
        claims = dict(token.claims)
        now = int(time.time())
        if "aud" in self.faults:
            claims["aud"] = self.faults["aud"]
        if "exp" in self.faults:
            claims["iat"] = now + self.faults["exp"] - 3600
            claims["exp"] = now + self.faults["exp"]
        if "nonce" in self.faults:
            claims["nonce"] = self.faults["nonce"]
        if "iss" in self.faults:
            claims["iss"] = self.faults["iss"]
        header = {"alg": "RS256", "kid": token.header.get("kid")}
        signer = self.rogue_key if "signature" in self.faults else key
        return jwt.encode(header, claims, signer)


@contextmanager
def running_provider(users: list[oidc_provider_mock.User] | None = None) -> Iterator[Provider]:
    provider = Provider()
    app = oidc_provider_mock.app(require_nonce=True, user_claims=users or [])
    provider.install(app)
    with oidc_provider_mock._server._threaded_server(app=app, host="localhost", port=0) as server:
        provider.url = f"http://localhost:{server.server_port}"
        yield provider
