"""The files a territory's bundle carries beside its set-up rows (``app.territory_setup``): each
domain that keeps set-up data in files offers a :class:`app.interfaces.BundleFiles` (open data: the
rows of the datasets its staff uploaded), handed over by ``app.domains.install``.

The files are streamed: written into the zip from disk as it is made, read from the zip a line at a
time on import. A bundle is refused with a French message (:class:`BundleTooLarge`) when a file, or
all of them together, pass what an install can sensibly carry, whatever the zip declares.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from sqlmodel import Session

from app.interfaces import BundleFiles

MAX_FILE_BYTES = 64 * 1024 * 1024  # one file of a bundle (an uploaded dataset is 10 MB at most)
MAX_FILES_BYTES = 512 * 1024 * 1024  # all the files of a bundle together
MAX_JSON_BYTES = 32 * 1024 * 1024  # one set-up table of a bundle

_PARTS: list[BundleFiles] = []


class BundleTooLarge(ValueError):
    """A bundle's file too large to carry (French message)."""


def install(parts: Iterable[BundleFiles]) -> None:
    _PARTS[:] = list(parts)


def parts() -> list[BundleFiles]:
    return list(_PARTS)


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.0f} Mo"


def carried(session: Session, territory_id: int, var_dir: Path) -> list[tuple[str, Path]]:
    """Every part's files of the territory, as (name in the bundle, path), checked before a byte of
    the bundle is written: ``ValueError`` (French) for one that must not leave or is too large."""
    out: list[tuple[str, Path]] = []
    total = 0
    for part in _PARTS:
        for name, path in part.export(session, territory_id, var_dir):
            size = path.stat().st_size
            total += size
            if size > MAX_FILE_BYTES or total > MAX_FILES_BYTES:
                raise BundleTooLarge(
                    f"{part.folder}/{name} : trop volumineux pour un export de territoire "
                    f"({_megabytes(size)} ; {_megabytes(MAX_FILE_BYTES)} par fichier et "
                    f"{_megabytes(MAX_FILES_BYTES)} en tout au plus)."
                )
            out.append((f"{part.folder}/{name}", path))
    return out


def put(bundle: zipfile.ZipFile, files: list[tuple[str, Path]]) -> None:
    """The files :func:`carried` gave into ``bundle``, streamed from disk."""
    for name, path in files:
        bundle.write(path, name)


class _Limited:
    """A zip member read as a binary stream that refuses to give more than its limit, whatever
    the zip declared."""

    def __init__(self, raw: IO[bytes], name: str, limit: int) -> None:
        self.raw, self.name, self.left = raw, name, limit

    def _count(self, data: bytes) -> bytes:
        self.left -= len(data)
        if self.left < 0:
            raise BundleTooLarge(
                f"{self.name} : plus de {_megabytes(MAX_FILE_BYTES)}, trop volumineux pour un "
                "export de territoire."
            )
        return data

    def read(self, size: int = -1) -> bytes:
        return self._count(self.raw.read(size))

    def read1(self, size: int = -1) -> bytes:
        return self._count(self.raw.read1(size))  # type: ignore[attr-defined]  # ZipExtFile has it

    def __enter__(self) -> _Limited:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    @property
    def closed(self) -> bool:
        return bool(self.raw.closed)

    def close(self) -> None:
        self.raw.close()

    def flush(self) -> None:
        return None

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return False


def sizes(bundle: zipfile.ZipFile) -> None:
    """Refuse a bundle whose members declare absurd sizes, before anything is read."""
    total = 0
    for info in bundle.infolist():
        folder = info.filename.split("/", 1)[0]
        is_file = "/" in info.filename and any(folder == p.folder for p in _PARTS)
        limit = MAX_FILE_BYTES if is_file else MAX_JSON_BYTES
        total += info.file_size
        if info.file_size > limit or total > MAX_FILES_BYTES + 16 * MAX_JSON_BYTES:
            raise BundleTooLarge(
                f"{info.filename} : {_megabytes(info.file_size)}, trop volumineux pour un export "
                f"de territoire ({_megabytes(limit)} au plus)."
            )


def load(
    bundle: zipfile.ZipFile,
    session: Session,
    territory_id: int,
    var_dir: Path,
    setup: Mapping[str, list[dict[str, Any]]],
) -> list[Callable[[], None]]:
    """Every part's files of ``bundle`` checked and written beside their place (after the
    territory's rows); the functions that put them in place. ``ValueError`` (French): nothing is
    left written."""
    names = [n for n in bundle.namelist() if "/" in n and not n.endswith("/")]
    known = {p.folder for p in _PARTS}
    unknown = sorted(n for n in names if n.split("/", 1)[0] not in known)
    if unknown:
        raise ValueError(f"{unknown[0]} : fichier inconnu dans un export de territoire.")
    finish: list[Callable[[], None]] = []
    for part in _PARTS:
        files = {
            n.split("/", 1)[1]: (lambda n=n: _Limited(bundle.open(n), n, MAX_FILE_BYTES))
            for n in names
            if n.split("/", 1)[0] == part.folder
        }
        finish.append(part.load(session, territory_id, var_dir, setup, files))
    return finish
