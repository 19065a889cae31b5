"""What Eclor holds on a person: export (GDPR access/portability) and erasure.

Each domain registers, for its own tables and files:
- an exporter ``fn(session, user_id, media_dir) -> (json_able, list[Path])``:
  the person's data and the files (photos) to put in the export zip;
- an eraser ``fn(session, user_id, media_dir) -> list[Path]``: deletes or
  anonymises the person's rows (public reports stay, anonymised) and returns
  the files to delete once the transaction has committed.

``export_user`` and ``erase_user`` run every registered hook; the accounts
domain builds the zip and deletes the account itself last.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import Session

Exporter = Callable[[Session, int, Path], tuple[Any, list[Path]]]
Eraser = Callable[[Session, int, Path], list[Path]]

EXPORTERS: dict[str, Exporter] = {}
ERASERS: dict[str, Eraser] = {}


def privacy_exporter(name: str) -> Callable[[Exporter], Exporter]:
    def register(fn: Exporter) -> Exporter:
        EXPORTERS[name] = fn
        return fn

    return register


def privacy_eraser(name: str) -> Callable[[Eraser], Eraser]:
    def register(fn: Eraser) -> Eraser:
        ERASERS[name] = fn
        return fn

    return register


def export_user(session: Session, user_id: int, media_dir: Path) -> tuple[dict[str, Any], list[Path]]:
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
