"""Requests to an OpenID provider go through the outbound guard (app.outbound): public addresses
only, unless the settings say the provider sits on the authority's private network, and then its
own host only. The provider is a real one on this machine's loopback; loopback counts as a private
address here, and the tests run with loopback otherwise refused, as in production."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from app import oidc, outbound
from app.models.accounts import Identity, User
from app.settings import OIDCProvider
from tests.oidc_provider import Provider
from tests.test_oidc import authorize, count, provider, signed_in_as, start  # noqa: F401


@pytest.fixture
def settings(settings, provider: Provider):  # noqa: F811
    provider.faults.clear()
    settings.outbound_allow_loopback = False  # as in production
    settings.oidc_providers = [_provider(provider, private_network=False)]
    return settings


@pytest.fixture(autouse=True)
def fresh_provider_cache() -> Iterator[None]:
    """Each test fetches the discovery document and keys again, through its own settings."""
    oidc._metadata.clear()
    oidc._jwks.clear()
    yield
    oidc._metadata.clear()
    oidc._jwks.clear()


def _provider(provider: Provider, *, private_network: bool) -> OIDCProvider:  # noqa: F811
    return OIDCProvider(
        name="fc",
        label="Fournisseur de l'agglomération",
        issuer=provider.issuer,
        client_id="eclor-test",
        client_secret="secret",
        role="resident",
        private_network=private_network,
    )


def test_a_provider_on_a_private_address_is_not_reached_unless_the_settings_say_so(
    client, engine, provider
):  # noqa: F811
    before = len(provider.token_requests)
    r = client.post_form("/login/oidc/fc", {"next": "/me"})
    assert r.status_code == 400
    assert "ne répond pas" in r.text
    assert "Traceback" not in r.text
    assert len(provider.token_requests) == before
    assert count(engine, User) == 0


def test_the_provider_named_on_the_private_network_is_reached_on_its_own_host(
    client, engine, settings, provider
):  # noqa: F811
    settings.oidc_providers = [_provider(provider, private_network=True)]
    r = client.get(authorize(start(client)), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me"
    assert signed_in_as(client) == "alice@example.fr"
    assert count(engine, Identity) == 1


def test_only_the_provider_s_own_host_may_be_private_not_a_host_its_document_names(
    client, engine, settings, provider
):  # noqa: F811
    settings.oidc_providers = [_provider(provider, private_network=True)]
    provider.faults["keys_at"] = "127.0.0.1"  # the same server, under another host
    r = client.get(authorize(start(client)), follow_redirects=False)
    assert r.status_code == 400 and "Connexion avec" in r.text
    assert signed_in_as(client) is None
    assert count(engine, User) == 0 and count(engine, Identity) == 0


def test_the_private_host_is_still_refused_on_link_local_and_other_hosts_are_public_only():
    ip = ipaddress.ip_address
    reach = outbound.Reach(allow_loopback=False, private_host="idp.agglo.lan")
    for address in ("10.0.0.5", "172.16.3.4", "192.168.1.10", "100.64.0.1", "fd00::5", "127.0.0.1"):
        assert reach.allows("idp.agglo.lan", ip(address)), address
        assert not reach.allows("other.agglo.lan", ip(address)), address
    for address in ("169.254.169.254", "fe80::1", "224.0.0.1", "0.0.0.0", "240.0.0.1"):
        assert not reach.allows("idp.agglo.lan", ip(address)), address
    assert reach.allows("other.example.org", ip("93.184.215.14"))  # public: anyone
    reach.check("idp.agglo.lan")  # the named host passes the name check...
    with pytest.raises(outbound.NotPublic):
        reach.check("other.agglo.lan")  # ...a local name of another host does not
    with pytest.raises(outbound.NotPublic):
        outbound.Reach(private_host="169.254.169.254").check("169.254.169.254")
    with pytest.raises(outbound.NotPublic):
        outbound.fetch("GET", "http://169.254.169.254/latest/meta-data/", reach=reach, timeout=1)
    with pytest.raises(outbound.NotPublic):
        outbound.fetch("GET", "file:///etc/passwd", reach=reach, timeout=1)


def test_an_answer_over_the_cap_is_not_read_whole(settings, provider):  # noqa: F811
    reach = outbound.Reach(allow_loopback=True)
    url = provider.issuer + "/.well-known/openid-configuration"
    assert outbound.fetch("GET", url, reach=reach, timeout=5).json()["issuer"] == provider.issuer
    with pytest.raises(outbound.AnswerTooLarge):
        outbound.fetch("GET", url, reach=reach, timeout=5, limit=100)
