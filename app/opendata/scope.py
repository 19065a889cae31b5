"""Open data per territory: which territory a session publishes for, where its files are, and
who publishes them under which licence.

A request's session is bound to its host's territory (``app.deps.provide_db``); the snapshot
writer binds one session per territory. An unbound session (the command line, a test) works
for the install's default territory. The default territory's files stay where a one-territory
install kept them (``opendata/files``, ``opendata/uploads``); another's are in a folder named
after its slug below them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session

from app import territories
from app.territories import Branding


def territory(session: Session) -> Branding:
    """The territory the session publishes for: its bound one, else the install's default."""
    found = territories.bound(session)
    return found if found is not None else territories.read(session).default


def bound_to(session: Session, publisher: Branding) -> Session:
    """``session`` bound to ``publisher`` (what the territory's rows and choices are read with)."""
    return territories.bind(session, publisher)


def all_territories(session: Session) -> list[Branding]:
    return list(territories.read(session).by_slug.values())


def folder(root: Path, publisher: Branding | None) -> Path:
    """The territory's folder below ``root`` (``root`` itself for the default territory)."""
    if publisher is None or publisher.is_default:
        return root
    return root / publisher.slug


@dataclass(frozen=True)
class Publishing:
    """Who publishes a territory's open data, where, and under which licence."""

    base_url: str
    publisher: str
    contact_email: str
    licence: str
    licence_name: str


def base_url(publisher: Branding, install_url: str) -> str:
    """The address the territory's open data is published at: the install's ``base_url`` for the
    default territory (and one without host names), else its first host name."""
    if publisher.is_default or not publisher.hosts:
        return install_url.rstrip("/")
    scheme = urlsplit(install_url).scheme or "https"
    return f"{scheme}://{publisher.hosts[0]}"


def publishing(publisher: Branding, settings: Any) -> Publishing:
    """The territory's own open-data settings, each falling back on the install's
    (``ECLOR_OPENDATA_*``) for the default territory; another territory without its own publisher
    or contact is published under its name and its contact address."""
    if publisher.opendata_licence:
        licence = publisher.opendata_licence
        licence_name = publisher.opendata_licence_name or licence
    else:
        licence, licence_name = settings.opendata_licence, settings.opendata_licence_name
    if publisher.opendata_publisher:
        name = publisher.opendata_publisher
    elif publisher.is_default:
        name = settings.opendata_publisher
    else:
        name = publisher.publisher or publisher.name
    contact = (
        settings.opendata_contact_email
        if publisher.is_default or not publisher.contact_email
        else publisher.contact_email
    )
    return Publishing(
        base_url(publisher, str(settings.base_url)), name, contact, licence, licence_name
    )
