"""OpenID Connect sign-in against a real provider running in the test process."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import oidc_provider_mock
import pytest
from sqlalchemy import func, select

from app import auth
from app.db import write_session
from app.models.accounts import Identity, OIDCLogin, User, WebSession
from app.settings import OIDCProvider
from tests.conftest import EclorClient
from tests.oidc_provider import Provider, running_provider, s256

ALICE = oidc_provider_mock.User(
    sub="alice-123", claims={"email": "alice@example.fr", "given_name": "Alice"}
)


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider([ALICE]) as prov:
        yield prov


@pytest.fixture
def settings(settings, provider: Provider):
    provider.faults.clear()
    settings.oidc_providers = [
        OIDCProvider(
            name="fc",
            label="FranceConnect",
            issuer=provider.issuer,
            client_id="eclor-test",
            client_secret="secret",
            scopes=["openid", "email", "profile"],
            role="resident",
        )
    ]
    return settings


def start(client: EclorClient, path: str = "/login/oidc/fc", next_url: str = "/me") -> str:
    """Press the provider's button; return the provider's authorization URL."""
    r = client.post_form(path, {"next": next_url})
    assert r.status_code == 303, r.text
    return r.headers["location"]


def authorize(auth_url: str, sub: str = ALICE.sub) -> str:
    """The person consents at the provider; return Eclor's callback path with code and state."""
    r = httpx.post(auth_url, data={"sub": sub}, follow_redirects=False)
    assert r.status_code in (302, 303), r.text
    parts = urlsplit(r.headers["location"])
    return f"{parts.path}?{parts.query}"


def count(engine, model) -> int:
    with write_session(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def signed_in_as(client: EclorClient) -> str | None:
    r = client.get("/me", follow_redirects=False)
    if r.status_code != 200:
        return None
    return "alice@example.fr" if "alice@example.fr" in r.text else r.text


def test_a_person_signs_in_with_the_provider_and_gets_an_account_keyed_by_issuer_and_subject(
    client, engine, provider
):
    auth_url = start(client)
    query = parse_qs(urlsplit(auth_url).query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    callback = authorize(auth_url)
    r = client.get(callback, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me"
    assert signed_in_as(client) == "alice@example.fr"
    # The provider saw the PKCE verifier matching the challenge it got.
    assert s256(provider.token_requests[-1]["code_verifier"]) == query["code_challenge"][0]
    with write_session(engine) as s:
        identity = s.scalars(select(Identity)).one()
        user = s.get(User, identity.user_id)
        assert (identity.issuer, identity.subject, identity.provider) == (
            provider.issuer,
            "alice-123",
            "fc",
        )
        assert (
            user.email == "alice@example.fr"
            and user.role == "resident"
            and user.password_hash is None
        )
        assert s.scalars(select(OIDCLogin)).all() == []  # the pending sign-in is spent


def test_signing_in_again_finds_the_same_account(client, engine, app):
    client.get(authorize(start(client)))
    with EclorClient(app=app) as other_browser:
        other_browser.get(authorize(start(other_browser)))
        assert signed_in_as(other_browser) == "alice@example.fr"
    assert count(engine, User) == 1 and count(engine, Identity) == 1


def test_it_never_merges_an_account_because_the_e_mail_matches(client, engine):
    with write_session(engine) as s:
        auth.create_user(s, "alice@example.fr", password="a-long-password-1")
    r = client.get(authorize(start(client)), follow_redirects=False)
    assert r.status_code == 400
    assert "existe déjà" in r.text
    assert count(engine, User) == 1 and count(engine, Identity) == 0
    assert signed_in_as(client) is None


def test_a_signed_in_person_links_the_provider_then_signs_in_with_it(resident, engine, app):
    callback = authorize(start(resident.client, "/me/identities/fc/link"))
    r = resident.client.get(callback, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me?linked=1"
    with write_session(engine) as s:
        assert s.scalars(select(Identity.user_id)).one() == resident.id
    with EclorClient(app=app) as browser:
        browser.get(authorize(start(browser)))
        assert resident.email in browser.get("/me").text


def test_a_tampered_state_is_refused(client, engine):
    callback = authorize(start(client))
    path, query = callback.split("?")
    params = parse_qs(query)
    state = params["state"][0]
    tampered = f"{path}?code={params['code'][0]}&state={state[:-2]}{'AA' if not state.endswith('AA') else 'BB'}"
    r = client.get(tampered, follow_redirects=False)
    assert r.status_code == 400 and "Connexion avec FranceConnect impossible" in r.text
    assert signed_in_as(client) is None and count(engine, User) == 0


def test_a_state_started_in_another_browser_is_refused(client, app, engine):
    callback = authorize(start(client))
    with EclorClient(app=app) as attacker_victim:
        r = attacker_victim.get(callback, follow_redirects=False)
        assert r.status_code == 400
        assert signed_in_as(attacker_victim) is None
    assert count(engine, User) == 0


def test_a_replayed_code_is_refused(client, app, engine):
    callback = authorize(start(client))
    assert client.get(callback, follow_redirects=False).status_code == 303
    client.post_form("/logout")
    # The same callback again: the state is spent.
    r = client.get(callback, follow_redirects=False)
    assert r.status_code == 400 and signed_in_as(client) is None
    # The same code with a fresh state of this browser: the provider refuses it (already used).
    fresh = parse_qs(urlsplit(start(client)).query)["state"][0]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    r = client.get(f"/login/oidc/fc/callback?code={code}&state={fresh}", follow_redirects=False)
    assert r.status_code == 400 and signed_in_as(client) is None
    assert count(engine, WebSession) == 0


def test_a_code_obtained_for_another_sign_in_is_refused(client):
    first = authorize(start(client))
    second = authorize(start(client))
    code_of_second = parse_qs(urlsplit(second).query)["code"][0]
    state_of_first = parse_qs(urlsplit(first).query)["state"][0]
    r = client.get(
        f"/login/oidc/fc/callback?code={code_of_second}&state={state_of_first}",
        follow_redirects=False,
    )
    assert r.status_code == 400 and signed_in_as(client) is None


@pytest.mark.parametrize(
    "fault",
    [
        {"nonce": "a-nonce-from-another-sign-in-0123456789abcdef"},
        {"aud": "another-client"},
        {"aud": ["eclor-test", "another-client"]},
        {"exp": -600},
        {"iss": "http://evil.example"},
        {"signature": True},
    ],
    ids=[
        "wrong-nonce",
        "another-audience",
        "shared-audience-without-azp",
        "expired",
        "wrong-issuer",
        "bad-signature",
    ],
)
def test_an_id_token_that_fails_a_check_is_refused(client, engine, provider, fault):
    provider.faults.update(fault)
    r = client.get(authorize(start(client)), follow_redirects=False)
    assert r.status_code == 400 and "Connexion avec FranceConnect impossible" in r.text
    assert "Traceback" not in r.text
    assert signed_in_as(client) is None
    assert count(engine, User) == 0 and count(engine, WebSession) == 0


def test_the_person_cancelling_at_the_provider_gets_a_clear_message(client):
    auth_url = start(client)
    state = parse_qs(urlsplit(auth_url).query)["state"][0]
    r = client.get(
        f"/login/oidc/fc/callback?error=access_denied&state={state}", follow_redirects=False
    )
    assert r.status_code == 400 and "annulée" in r.text


def test_an_unknown_provider_is_a_404(client):
    assert client.post_form("/login/oidc/nope", {}).status_code == 404
    assert client.get("/login/oidc/nope/callback?state=x&code=y").status_code == 404


def test_the_login_page_offers_the_configured_providers(client):
    r = client.get("/login")
    assert "Continuer avec FranceConnect" in r.text and 'action="/login/oidc/fc"' in r.text


def test_the_only_way_in_cannot_be_unlinked(client, engine):
    client.get(authorize(start(client)))
    with write_session(engine) as s:
        identity_id = s.scalars(select(Identity.id)).one()
    r = client.post_form(f"/me/identities/{identity_id}/delete")
    assert r.status_code == 400 and "seul moyen de connexion" in r.text
    assert count(engine, Identity) == 1


def test_a_provider_of_one_territory_is_offered_and_used_on_its_hosts_only(
    client, engine, settings, provider
):
    """A territory's own identity provider (its staff directory) is offered on its hosts only; the
    person comes back to the host they started on, and an account it creates for staff works for
    that territory."""
    from tests.test_territories import ESCH, add_minett

    minett = add_minett(engine).id
    settings.oidc_providers.append(
        OIDCProvider(
            name="minett",
            label="Annuaire du Minett",
            issuer=provider.issuer,
            client_id="eclor-minett",
            client_secret="secret",
            role="staff",
            territories=["minett"],
        )
    )
    first = client.get("/login").text
    assert "Continuer avec FranceConnect" in first and "Annuaire du Minett" not in first
    esch = client.get("/login", headers=ESCH).text
    assert "Continuer avec FranceConnect" in esch and "Annuaire du Minett" in esch
    # Not offered on the first territory's host: not found there, nothing recorded.
    assert client.post_form("/login/oidc/minett", {"next": "/staff"}).status_code == 404
    assert client.get("/login/oidc/minett/callback?state=x&code=y").status_code == 404
    assert count(engine, OIDCLogin) == 0

    r = client.post_form("/login/oidc/minett", {"next": "/me"}, headers=ESCH)
    assert r.status_code == 303, r.text
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["redirect_uri"] == ["http://esch.localhost/login/oidc/minett/callback"]
    callback = authorize(r.headers["location"])
    assert callback.startswith("/login/oidc/minett/callback?")
    done = client.get(callback, headers=ESCH, follow_redirects=False)
    assert done.status_code == 303, done.text
    with write_session(engine) as s:
        user = s.scalars(select(User).where(User.email == "alice@example.fr")).one()
        assert (user.role, user.territory_id) == ("staff", minett)
    assert client.get("/staff/reports", headers=ESCH).status_code == 200
