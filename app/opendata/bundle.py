"""The rows of the datasets a territory's staff uploaded, carried by its bundle (``eclor territory
export``/``import``, through ``app.interfaces.BundleFiles``) beside their descriptions.

An uploaded dataset is set-up and reference data: the upload refused any cell that looks like
personal data (an e-mail address, a phone number: ``app.opendata.schemas.check_row``). Its stored
file is checked again, line by line against its Table Schema, when it leaves: a file that no longer
passes (a cell looking personal, a value of the wrong type) refuses the export, so no resident's
data leaves in a bundle. On import every line is checked the same way as it is read (a stream,
never the whole file at once), written beside its place, and put in place once the whole bundle
passed: the dataset's file is then the same, byte for byte, as on the install it came from.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from app import territories
from app.interfaces import BundleFiles
from app.models.opendata import OpenDataUpload
from app.opendata.registry import uploads_dir
from app.opendata.schemas import check_row, columns_of
from app.opendata.staff import MAX_ROWS

FOLDER = "opendata_rows"


def _folder(session: Session, territory_id: int, var_dir: Path) -> Path:
    branding = next(b for b in territories.read(session).by_slug.values() if b.id == territory_id)
    return uploads_dir(var_dir, branding)


def _lines(stream: Any, schema_text: str, slug: str) -> Any:
    """The lines of a dataset's CSV (header first), each checked against its Table Schema: a
    ``ValueError`` (French) names the first that does not pass."""
    columns = columns_of(json.loads(schema_text))
    names = [c.name for c in columns]
    reader = csv.reader(io.TextIOWrapper(stream, encoding="utf-8", newline=""))
    try:
        header = next(reader, None)
        if header != names:
            raise ValueError(
                f"« {slug} » : les colonnes du fichier ne sont pas celles de son Table Schema."
            )
        yield header
        for line, row in enumerate(reader, start=2):
            if line - 1 > MAX_ROWS:
                raise ValueError(f"« {slug} » : plus de {MAX_ROWS} lignes.")
            if len(row) != len(names):
                raise ValueError(f"« {slug} », ligne {line} : {len(names)} colonnes attendues.")
            try:
                check_row(columns, dict(zip(names, row, strict=True)), line)
            except ValueError as exc:
                raise ValueError(f"« {slug} » : {exc}") from None
            yield row
    except (UnicodeDecodeError, csv.Error):
        raise ValueError(f"« {slug} » : le fichier n’est pas un CSV lisible en UTF-8.") from None


def export(session: Session, territory_id: int, var_dir: Path) -> list[tuple[str, Path]]:
    """The stored file of each dataset the territory's staff uploaded (those whose rows are here),
    each checked again: a file that no longer passes its schema (a cell looking like personal data)
    refuses the export."""
    folder = _folder(session, territory_id, var_dir)
    out = []
    for upload in session.scalars(
        select(OpenDataUpload)
        .where(col(OpenDataUpload.territory_id) == territory_id)
        .order_by(col(OpenDataUpload.slug))
    ):
        path = folder / f"{upload.slug}.csv"
        if not path.exists():  # described here by a bundle, its rows never uploaded
            continue
        with path.open("rb") as stream:
            for _line in _lines(stream, upload.table_schema, upload.slug):
                pass
        out.append((f"{upload.slug}.csv", path))
    return out


def load(
    session: Session,
    territory_id: int,
    var_dir: Path,
    setup: Mapping[str, list[dict[str, Any]]],
    files: Mapping[str, Callable[[], Any]],
) -> Callable[[], None]:
    """The bundle's dataset files checked line by line against the Table Schema of their
    description and written beside their place; the function that puts them in place."""
    described = {str(row["slug"]): row for row in setup.get(str(OpenDataUpload.__tablename__), [])}
    for name in files:
        if not name.endswith(".csv") or name.removesuffix(".csv") not in described:
            raise ValueError(
                f"{FOLDER}/{name} : les lignes d’un jeu de données que le paquet ne décrit pas."
            )
    folder = _folder(session, territory_id, var_dir)
    written: list[tuple[Path, Path]] = []
    try:
        for name, opener in sorted(files.items()):
            slug = name.removesuffix(".csv")
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{slug}.csv.tmp"
            written.append((tmp, folder / name))
            rows = -1
            with opener() as stream, tmp.open("w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f, lineterminator="\r\n")
                for row in _lines(stream, described[slug]["table_schema"], slug):
                    writer.writerow(row)
                    rows += 1
            upload = session.scalars(
                select(OpenDataUpload).where(
                    col(OpenDataUpload.territory_id) == territory_id,
                    col(OpenDataUpload.slug) == slug,
                )
            ).one()
            upload.rows = rows
            session.add(upload)
    except BaseException:
        for tmp, _final in written:
            tmp.unlink(missing_ok=True)
        raise

    def put_in_place() -> None:
        for tmp, final in written:
            os.replace(tmp, final)

    return put_in_place


BUNDLE_FILES = BundleFiles(FOLDER, export, load)
