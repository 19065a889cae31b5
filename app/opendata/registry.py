"""Which datasets exist (contributed by domains, or uploaded by a territory's staff) and which the
territory publishes: the session's territory (``app.opendata.scope.territory``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from app.models.opendata import OpenDataSetting, OpenDataUpload
from app.opendata.contrib import Cnil, Column, Geometry, OpenDataset, Service
from app.opendata.schemas import columns_of
from app.opendata.scope import folder, territory
from app.territories import Branding

# The datasets and data services the domains declare, handed over by ``app.domains.install``.
_CONTRIBUTED: list[OpenDataset] = []
_SERVICES: list[Service] = []


def install(datasets: Iterable[OpenDataset], services: Iterable[Service]) -> None:
    _CONTRIBUTED[:] = list(datasets)
    _SERVICES[:] = list(services)


def contributed() -> list[OpenDataset]:
    """The datasets the domains declared in the registry (``app.domains``)."""
    return list(_CONTRIBUTED)


def services() -> list[Service]:
    """The APIs the domains declared, listed as data services."""
    return list(_SERVICES)


def uploads_dir(var_dir: Path, publisher: Branding | None = None) -> Path:
    """Where the files of a territory's uploaded datasets are (the default territory's: None)."""
    return folder(var_dir / "opendata" / "uploads", publisher)


UPLOAD_CNIL = Cnil(
    singling_out="Jeu ajouté par les agents : vérifié à l'import, sans adresse e-mail ni numéro de téléphone.",
    linkability="Les agents ont choisi de le publier ; il ne contient aucun identifiant de compte d'Eclor.",
    inference="Voir la description du jeu.",
)


def _typed(kind: str, cell: str) -> Any:
    if cell == "":
        return None
    if kind == "integer":
        return int(cell)
    if kind == "number":
        return float(cell)
    if kind == "boolean":
        return cell == "true"
    return cell


def _upload_rows(path: Path, columns: tuple[Column, ...]) -> Any:
    """The stored rows of an uploaded dataset (checked at upload), typed again from its schema."""
    kinds = [c.type for c in columns]

    def rows(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
        if not path.exists():  # described by a territory's bundle, its rows not uploaded here
            return
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader, None)
            for row in reader:
                yield tuple(_typed(kind, cell) for kind, cell in zip(kinds, row, strict=True))

    return rows


def uploaded(session: Session, var_dir: Path) -> list[OpenDataset]:
    """The datasets the session's territory's staff uploaded."""
    publisher = territory(session)
    out = []
    for up in session.scalars(
        select(OpenDataUpload)
        .where(col(OpenDataUpload.territory_id) == publisher.id)
        .order_by(col(OpenDataUpload.slug))
    ):
        schema = json.loads(up.table_schema)
        columns = columns_of(schema)
        names = {c.name for c in columns}
        geometry = (
            Geometry("latitude", "longitude", 5) if {"latitude", "longitude"} <= names else None
        )
        out.append(
            OpenDataset(
                slug=up.slug,
                domain="uploads",
                title=up.title,
                description=up.description,
                theme=up.theme,
                keywords=tuple(k.strip() for k in up.keywords.split(",") if k.strip()),
                frequency=up.frequency,
                expected_minutes=24 * 60 * 365,
                columns=columns,
                rows=_upload_rows(uploads_dir(var_dir, publisher) / f"{up.slug}.csv", columns),
                geometry=geometry,
                cnil=UPLOAD_CNIL,
                published_by_default=False,
                extra={"uploaded": True},
            )
        )
    return out


def all_datasets(session: Session, var_dir: Path) -> list[OpenDataset]:
    return contributed() + uploaded(session, var_dir)


def publication(session: Session) -> dict[str, bool]:
    """The session's territory's choices: published or not, per dataset it changed."""
    publisher = territory(session)
    return {
        s.slug: s.published
        for s in session.scalars(
            select(OpenDataSetting).where(col(OpenDataSetting.territory_id) == publisher.id)
        )
    }


def published(session: Session, var_dir: Path) -> list[OpenDataset]:
    chosen = publication(session)
    return [d for d in all_datasets(session, var_dir) if chosen.get(d.slug, d.published_by_default)]


def find(
    session: Session, var_dir: Path, slug: str, *, only_published: bool = True
) -> OpenDataset | None:
    pool = published(session, var_dir) if only_published else all_datasets(session, var_dir)
    return next((d for d in pool if d.slug == slug), None)
