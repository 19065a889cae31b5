"""The JSON-LD ``@context`` of an NGSI-LD request: which IRI each name of the request stands for.

NGSI-LD (ETSI GS CIM 009 §5.5.7, §6.3.5): a request names types and
attributes by short terms; the terms are expanded with the ``@context`` the
request gives, in a ``Link`` header (``rel="http://www.w3.org/ns/json-ld#context"``)
for ``application/json``, or in the body (``@context``) for
``application/ld+json``; the core context always comes last and its terms
cannot be redefined; a name no context defines expands to the default
vocabulary (``https://uri.etsi.org/ngsi-ld/default-context/``). The answer is
compacted with the same context and names it (``Link`` header, or ``@context``
in the body).

A context is Eclor's own served one (known here), the core one (known here,
:mod:`app.ngsi_core_context`), or a document on the Internet, fetched through
the outbound guard (:mod:`app.outbound`: public addresses only, capped answer,
timeout) and kept for half an hour. A context that cannot be fetched is a 503
``LdContextNotAvailable``; one that is not a JSON-LD context is a 400.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp

from app import ngsi_core_context as core
from app import outbound
from app.ngsi import NgsiError

LINK_REL: Final = "http://www.w3.org/ns/json-ld#context"
MAX_CONTEXT_BYTES: Final = 512 * 1024
MAX_DOCUMENTS: Final = 8
"""How many documents one request's context may pull in (nested contexts included)."""
CACHE_SECONDS: Final = 1800.0
CACHE_SIZE: Final = 64
TIMEOUT_SECONDS: Final = 5.0

_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")


@dataclass(frozen=True)
class LdContext:
    """A request's context: the ``Link`` (or body) context given, then the core one.

    ``url`` is the context named by the request (``None``: none given, Eclor's
    own served terms are answered); ``terms`` maps each term to its IRI.
    """

    url: str | None
    terms: Mapping[str, str]
    _inverse: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for term, iri in self.terms.items():
            self._inverse.setdefault(iri, term)

    def expand(self, name: str) -> str:
        """The IRI a name of the request stands for."""
        if "://" in name or name.startswith("urn:"):
            return name
        if ":" in name:
            prefix, suffix = name.split(":", 1)
            if prefix in self.terms:
                return self.terms[prefix] + suffix
        return self.terms.get(name, core.VOCAB + name)

    def compact(self, iri: str) -> str:
        """The shortest name of an IRI in this context (the IRI itself when none)."""
        term = self._inverse.get(iri)
        if term is not None:
            return term
        if iri.startswith(core.VOCAB):
            rest = iri[len(core.VOCAB) :]
            if rest not in self.terms:
                return rest
        return iri


CORE: Final = LdContext(url=None, terms=dict(core.TERMS))
"""No context given: the core context alone."""


def link_url(header: str | None) -> str | None:
    """The context URL of a ``Link`` header (the link whose ``rel`` is the JSON-LD context)."""
    if header is None or not header.strip():
        return None
    found = [m for m in _LINK.finditer(header) if LINK_REL in m.group(2)]
    if not found:
        if "<" not in header:
            raise NgsiError(400, "BadRequestData", "Invalid Link header", header[:200])
        return None
    if len(found) > 1:
        raise NgsiError(
            400, "BadRequestData", "Invalid Link header", "more than one JSON-LD context link"
        )
    url = found[0].group(1).strip()
    if not url.startswith(("http://", "https://")):
        raise NgsiError(
            400, "BadRequestData", "Invalid Link header", f"not an http(s) URL: {url[:200]}"
        )
    return url


# --------------------------------------------------------------------------- building


Loader = Callable[[str], Any]


def _bad(detail: str) -> NgsiError:
    return NgsiError(400, "BadRequestData", "Invalid @context", detail[:300])


def _merge(value: Any, into: dict[str, str], load: Loader, seen: list[str]) -> None:
    """Adds the terms of a context value (a URL, an object or a list of them) to ``into``."""
    if value is None:
        return
    if isinstance(value, str):
        if value in core.URLS:
            return  # the core context comes last anyway
        if value in seen:
            return
        seen.append(value)
        if len(seen) > MAX_DOCUMENTS:
            raise _bad(f"more than {MAX_DOCUMENTS} context documents")
        document = load(value)
        if not isinstance(document, dict) or "@context" not in document:
            raise _bad(f"{value[:200]} is not a JSON-LD context document")
        _merge(document["@context"], into, load, seen)
        return
    if isinstance(value, list):
        for item in value:
            _merge(item, into, load, seen)
        return
    if not isinstance(value, dict):
        raise _bad("a context is a URL, an object or a list of them")
    local: dict[str, str | None] = {}
    for term, definition in value.items():
        if not isinstance(term, str) or term.startswith("@"):
            continue
        if isinstance(definition, dict):
            definition = definition.get("@id")
        if definition is None or isinstance(definition, str):
            local[term] = definition
    for term, iri in local.items():
        if iri is None:
            into.pop(term, None)  # a null definition removes the term
            continue
        if "://" not in iri and ":" in iri and not iri.startswith("urn:"):
            prefix, suffix = iri.split(":", 1)
            base = local.get(prefix) or into.get(prefix) or core.TERMS.get(prefix)
            if prefix == "ngsi-ld":
                base = core.NGSI_LD
            if base:
                iri = base + suffix
        if iri.startswith("@"):
            continue
        into[term] = iri


def build(url: str | None, value: Any, load: Loader) -> LdContext:
    """The context of a request: ``value`` (a ``Link`` URL or a body ``@context``), then the core."""
    terms: dict[str, str] = {}
    _merge(value, terms, load, [])
    # The core context is last and protected: its terms win.
    return LdContext(url=url, terms={**terms, **core.TERMS})


# --------------------------------------------------------------------------- fetching

_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


async def _fetch(url: str, allow_loopback: bool) -> Any:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    try:
        outbound.check_host(host, allow_loopback=allow_loopback)
    except outbound.NotPublic as exc:
        raise NgsiError(
            503, "LdContextNotAvailable", "@context not available", f"{url[:200]}: {exc}"
        ) from None
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    try:
        async with aiohttp.ClientSession(
            connector=outbound.connector(allow_loopback=allow_loopback), timeout=timeout
        ) as session:
            async with session.get(
                url,
                headers={"accept": "application/ld+json, application/json;q=0.9"},
                allow_redirects=False,
            ) as answer:
                if answer.status != 200:
                    raise NgsiError(
                        503,
                        "LdContextNotAvailable",
                        "@context not available",
                        f"{url[:200]} answered {answer.status}",
                    )
                body = await outbound.read_capped(answer, MAX_CONTEXT_BYTES)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise NgsiError(
            503, "LdContextNotAvailable", "@context not available", f"{url[:200]}: {exc}"[:300]
        ) from None
    if len(body) >= MAX_CONTEXT_BYTES:
        raise _bad(f"{url[:200]} is larger than {MAX_CONTEXT_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise _bad(f"{url[:200]} is not JSON") from None


def _run(url: str, allow_loopback: bool) -> Any:
    """Fetches from a worker thread of the web server, or from plain code (tests, workers)."""
    try:
        import anyio.from_thread

        return anyio.from_thread.run(_fetch, url, allow_loopback)
    except RuntimeError as exc:
        if "worker thread" not in str(exc) and "event loop" not in str(exc):
            raise
    return asyncio.run(_fetch(url, allow_loopback))


def loader(known: Mapping[str, Any], allow_loopback: bool) -> Loader:
    """Reads a context document: a known one (Eclor's own) at once, any other from the cache or the Internet."""

    def load(url: str) -> Any:
        if url in known:
            return known[url]
        now = time.monotonic()
        with _cache_lock:
            hit = _cache.get(url)
            if hit is not None and hit[0] > now:
                return hit[1]
        document = _run(url, allow_loopback)
        with _cache_lock:
            if len(_cache) >= CACHE_SIZE:
                _cache.pop(next(iter(_cache)))
            _cache[url] = (now + CACHE_SECONDS, document)
        return document

    return load


def forget() -> None:
    """Empties the cache of fetched contexts."""
    with _cache_lock:
        _cache.clear()
