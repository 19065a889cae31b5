"""Outbound requests reach the public Internet only.

Eclor sends requests to addresses it is given (a browser's push endpoint);
an address pointing inside (the cloud metadata service at 169.254.169.254,
10.0.0.5:8443, the database on 127.0.0.1:5432) would make the server a
proxy into its own network. Two checks close it:

- :func:`check_host`, when an address is accepted and again when it is used:
  an IP literal must be a global unicast address (private, loopback,
  link-local, multicast, reserved, shared and unspecified ranges refused,
  IPv4-mapped IPv6 included); a name must not be a local one (``localhost``,
  ``.local``, ``.internal``, a single label...);
- :class:`PublicOnlyResolver`, at connect time: the addresses a name
  resolves to are filtered the same way, so a name that resolves (or is made
  to resolve, DNS rebinding) to an inside address is never connected to.

Answers are read up to :data:`MAX_ANSWER_BYTES`, never whole
(:func:`read_capped`). Loopback is allowed only when
``Settings.outbound_allows_loopback`` (development and tests, never production), so the
tests' local push service (``tests/pushreceiver.py``) keeps working.

Synchronous requests (the OpenID Connect provider's discovery document, keys
and token endpoint) go through :func:`fetch`: the name is resolved once, every
address is checked, and the connection is made to a checked address (the name
kept for ``Host`` and TLS), so what was checked is what is connected to. One
exception, named in the settings and nothing else: :class:`Reach` may allow
one host (an identity provider on the authority's own network) to be on a
private address; link-local (the cloud metadata service) and multicast stay
refused even for it.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

MAX_ANSWER_BYTES: Final = 16 * 1024
"""How much of an answer Eclor reads at most (a push service answers in a few hundred bytes)."""

MAX_DOCUMENT_BYTES: Final = 512 * 1024
"""How much of a fetched document (a discovery document, a key set, a token answer) is read at most."""

_LOCAL_SUFFIXES: Final = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".localdomain")


class NotPublic(ValueError):
    """An address that is not on the public Internet; the message is in French."""


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _unmapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_public(ip: IPAddress) -> bool:
    """A global unicast address (what the public Internet routes)."""
    ip = _unmapped(ip)
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
    )


def address_allowed(ip: IPAddress, *, allow_loopback: bool) -> bool:
    return is_public(ip) or (allow_loopback and _unmapped(ip).is_loopback)


def _is_local_name(host: str) -> bool:
    return host == "localhost" or host.endswith(_LOCAL_SUFFIXES) or "." not in host


def check_host(host: str, *, allow_loopback: bool) -> None:
    """Raise :class:`NotPublic` unless ``host`` (a name or an IP literal) may be reached."""
    host = host.lower().rstrip(".").strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        if not address_allowed(ip, allow_loopback=allow_loopback):
            raise NotPublic(f"« {host} » n'est pas une adresse publique d'Internet.")
        return
    if _is_local_name(host) and not (
        allow_loopback and (host == "localhost" or host.endswith(".localhost"))
    ):
        raise NotPublic(f"« {host} » n'est pas un nom public d'Internet.")


class PublicOnlyResolver(AbstractResolver):
    """Resolves names like aiohttp does, then keeps public addresses only (DNS rebinding).

    A name left with no allowed address fails like an unknown name
    (``OSError``): the request is never sent.
    """

    def __init__(self, *, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        kept = [
            r
            for r in found
            if address_allowed(ipaddress.ip_address(r["host"]), allow_loopback=self.allow_loopback)
        ]
        if not kept:
            raise OSError(f"{host} resolves to no public address: not connected")
        return kept

    async def close(self) -> None:
        await self._inner.close()


def connector(*, allow_loopback: bool, **kwargs: Any) -> aiohttp.TCPConnector:
    """An aiohttp connector that connects to public addresses only."""
    return aiohttp.TCPConnector(
        resolver=PublicOnlyResolver(allow_loopback=allow_loopback), **kwargs
    )


async def read_capped(response: aiohttp.ClientResponse, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """At most ``limit`` bytes of an answer; the rest is never read (the connection is dropped)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size >= limit and not response.content.at_eof():
        response.close()  # do not drain the rest into a pooled connection
    return b"".join(chunks)


async def send(
    method: str,
    url: str,
    *,
    allow_loopback: bool,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: float = 30.0,
) -> tuple[int, bytes]:
    """One request to ``url`` through the guard; (status, the answer's first bytes).

    The host is checked before anything is sent and its addresses at connect
    time (:class:`PublicOnlyResolver`); redirects are not followed; the answer
    is read up to :data:`MAX_ANSWER_BYTES`. Network failures raise
    (``aiohttp.ClientError``, ``OSError``, ``TimeoutError``) for the caller's
    retries; a refused address raises :class:`NotPublic`.
    """
    from urllib.parse import urlsplit

    target = urlsplit(url)
    if target.scheme not in ("http", "https") or not target.hostname:
        raise NotPublic(f"« {url[:100]} » n'est pas une adresse http(s).")
    check_host(target.hostname, allow_loopback=allow_loopback)
    timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=10)
    async with aiohttp.ClientSession(
        connector=connector(allow_loopback=allow_loopback), timeout=timeout
    ) as client:
        async with client.request(
            method, url, data=body, headers=headers or {}, allow_redirects=False
        ) as response:
            return response.status, await read_capped(response)


# --- synchronous requests (OpenID Connect) ------------------------------------------------------


def on_private_network(ip: IPAddress) -> bool:
    """A private, shared (CGNAT) or loopback address: an organisation's own network.

    Link-local (169.254.0.0/16, fe80::/10: the cloud metadata service),
    multicast, unspecified and reserved addresses are not a network one can
    name a server on, and stay refused.
    """
    ip = _unmapped(ip)
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return False
    return ip.is_private or ip.is_loopback or ip in _SHARED


_SHARED: Final = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True)
class Reach:
    """Where a request may go: public addresses; loopback when allowed (development, tests); and
    ``private_host``, the one host the settings name as being on the authority's private network."""

    allow_loopback: bool = False
    private_host: str = ""

    def _is_private_host(self, host: str) -> bool:
        wanted = self.private_host.lower().rstrip(".").strip("[]")
        return bool(wanted) and host.lower().rstrip(".").strip("[]") == wanted

    def check(self, host: str) -> None:
        """Raise :class:`NotPublic` unless ``host`` may be asked at all (before resolving it)."""
        if self._is_private_host(host):
            try:
                ip = ipaddress.ip_address(host.strip("[]"))
            except ValueError:
                return  # a name: its addresses are checked when it is resolved
            if not (on_private_network(ip) or is_public(ip)):
                raise NotPublic(f"« {host} » n'est ni une adresse publique ni une adresse privée.")
            return
        check_host(host, allow_loopback=self.allow_loopback)

    def allows(self, host: str, ip: IPAddress) -> bool:
        """Whether ``host`` may be connected to at ``ip`` (one of its resolved addresses)."""
        if address_allowed(ip, allow_loopback=self.allow_loopback):
            return True
        return self._is_private_host(host) and on_private_network(ip)

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` resolves to that may be connected to; ``NotPublic`` if none."""
        self.check(host)
        try:
            found = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise NotPublic(f"« {host} » ne se résout pas ({exc}).") from exc
        kept: list[str] = []
        for _family, _type, _proto, _name, sockaddr in found:
            address = str(sockaddr[0]).split("%")[0]
            if address not in kept and self.allows(host, ipaddress.ip_address(address)):
                kept.append(address)
        if not kept:
            raise NotPublic(f"« {host} » ne mène à aucune adresse permise : rien n'est envoyé.")
        return kept


_DECODED_AWAY: Final = ("content-encoding", "content-length", "transfer-encoding")


class AnswerTooLarge(ValueError):
    """An answer longer than the cap: it is not read further."""


def fetch(
    method: str,
    url: str,
    *,
    reach: Reach,
    timeout: float,
    limit: int = MAX_DOCUMENT_BYTES,
    verify: ssl.SSLContext | bool = True,
    **kwargs: Any,
) -> httpx.Response:
    """One request to ``url`` through the guard, its answer read up to ``limit`` bytes.

    ``url``'s host is resolved here, each address checked against ``reach``,
    and the connection made to a checked address (``Host`` and the TLS server
    name stay the URL's own, so certificates are verified against the name):
    a name that resolves elsewhere at connect time (DNS rebinding) is never
    connected to. Redirects are not followed. ``verify`` is the TLS context (a CA of the
    authority's own, a client certificate) when the system's is not the one. Raises :class:`NotPublic`,
    :class:`AnswerTooLarge` or ``httpx.HTTPError``.
    """
    target = httpx.URL(url)
    if target.scheme not in ("http", "https") or not target.host:
        raise NotPublic(f"« {url[:100]} » n'est pas une adresse http(s).")
    port = target.port or (443 if target.scheme == "https" else 80)
    headers = {**kwargs.pop("headers", {}), "host": target.netloc.decode("ascii")}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    last_error: httpx.HTTPError | None = None
    with httpx.Client(
        timeout=timeout, follow_redirects=False, trust_env=False, verify=verify
    ) as client:
        for address in reach.addresses(target.host, port):
            try:
                with client.stream(
                    method,
                    target.copy_with(host=address),
                    headers=headers,
                    extensions=extensions,
                    **kwargs,
                ) as answer:
                    body = bytearray()
                    for chunk in answer.iter_bytes():
                        body += chunk
                        if len(body) > limit:
                            raise AnswerTooLarge(f"answer of {target.host} over {limit} bytes")
                    kept = [  # the body is already decoded and whole
                        (k, v)
                        for k, v in answer.headers.multi_items()
                        if k.lower() not in _DECODED_AWAY
                    ]
                    return httpx.Response(
                        answer.status_code,
                        headers=kept,
                        content=bytes(body),
                        request=answer.request,
                    )
            except httpx.ConnectError as exc:  # the next address of the name, if any
                last_error = exc
    assert last_error is not None
    raise last_error
