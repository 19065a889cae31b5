"""What Eclor holds on a person: export (GDPR access/portability) and erasure.

Each domain declares (:class:`app.interfaces.Privacy`), for its own tables and files:
- an exporter ``fn(session, user_id, media_dir) -> (json_able, list[Path])``:
  the person's data and the files (photos) to put in the export zip;
- an eraser ``fn(session, user_id, media_dir) -> list[Path]``: deletes or
  anonymises the person's rows (public reports stay, anonymised) and returns
  the files to delete once the transaction has committed.

``app.domains.install`` puts them here; ``export_user`` and ``erase_user`` run them all; the accounts
domain builds the zip and deletes the account itself last.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlmodel import Session

from app.interfaces import Eraser, Exporter, Privacy

EXPORTERS: dict[str, Exporter] = {}
ERASERS: dict[str, Eraser] = {}


def install(hooks: Iterable[Privacy]) -> None:
    EXPORTERS.clear()
    ERASERS.clear()
    for hook in hooks:
        EXPORTERS[hook.name] = hook.export
        ERASERS[hook.name] = hook.erase


def export_user(
    session: Session, user_id: int, media_dir: Path
) -> tuple[dict[str, Any], list[Path]]:
    data: dict[str, Any] = {}
    files: list[Path] = []
    for name, fn in sorted(EXPORTERS.items()):
        part, part_files = fn(session, user_id, media_dir)
        data[name] = part
        files.extend(part_files)
    return data, files


def erase_user(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    """Run every domain's eraser in the caller's transaction; return files to delete after commit."""
    files: list[Path] = []
    for _name, fn in sorted(ERASERS.items()):
        files.extend(fn(session, user_id, media_dir))
    return files
