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
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, Final

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

MAX_ANSWER_BYTES: Final = 16 * 1024
"""How much of an answer Eclor reads at most (a push service answers in a few hundred bytes)."""

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
