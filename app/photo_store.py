"""Where photos live on disk: random names in sharded folders under the media directory.

:mod:`app.images` checks and re-encodes an upload; this module stores the
result, serves it back by name and removes it. Files get random names
(:func:`secrets.token_urlsafe`) in sharded folders, are written atomically,
and can only be read back through :func:`open_path`, which accepts nothing
but names this module makes.

Photos are written *before* the write transaction that records them opens
(:class:`PendingPhotos`), so no database lock is ever held while a file is
written and synced. A crash between the write and the commit leaves files no
row names: :func:`orphans` finds them and the worker's sweep removes them
once they are older than a grace period (``app.photo_sweep``).
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Protocol

from litestar.exceptions import NotFoundException
from litestar.response import File

__all__ = [
    "InvalidPhotoName",
    "PendingPhotos",
    "StoredPhoto",
    "delete",
    "open_path",
    "orphans",
    "save",
    "served",
]


class InvalidPhotoName(ValueError):
    """A stored-photo name this module cannot have made (path traversal, typo, tampering)."""


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    """The names under which :func:`save` stored the two variants of a photo."""

    display_name: str
    thumb_name: str


class Encoded(Protocol):
    """What :func:`save` stores: the two JPEG variants (``app.images.ProcessedPhoto``)."""

    @property
    def display(self) -> bytes: ...

    @property
    def thumb(self) -> bytes: ...


class KnownNames(Protocol):
    """Of a batch of stored names, those some row still names."""

    def __call__(self, names: list[str]) -> set[str]: ...


_PHOTOS_FOLDER: Final = "photos"
_TOKEN_BYTES: Final = 24  # 192 bits, 32 URL-safe characters
_OUTPUT_SUFFIX: Final = ".jpg"
_NAME_RE: Final = re.compile(r"\A[A-Za-z0-9_-]{32}\.jpg\Z")
_TMP_RE: Final = re.compile(r"\A\.[0-9a-f]{16}\.tmp\Z")
_CODE_ROOT: Final = Path(__file__).resolve().parent


def _photos_root(media_dir: str | os.PathLike[str]) -> Path:
    """The folder holding every stored photo; refuses a media directory inside the code tree."""
    root = (Path(media_dir) / _PHOTOS_FOLDER).resolve()
    if root.is_relative_to(_CODE_ROOT):
        raise ValueError(f"media_dir must lie outside the application package {_CODE_ROOT}")
    return root


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidPhotoName(f"not a stored photo name: {name!r}")
    return name


def _shard(root: Path, name: str) -> Path:
    # Two URL-safe characters: 4096 folders, so none grows past a few
    # thousand files even with millions of photos.
    return root / name[:2]


def _new_name() -> str:
    return secrets.token_urlsafe(_TOKEN_BYTES) + _OUTPUT_SUFFIX


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(root: Path, name: str, content: bytes) -> None:
    """Write ``content`` under ``name``: a hidden temporary file, fsync, then ``os.replace``."""
    folder = _shard(root, name)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, folder / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def save(processed: Encoded, media_dir: str | os.PathLike[str]) -> StoredPhoto:
    """Store both variants under fresh random names; either both are written or neither.

    Files land in ``media_dir/photos/<2 chars>/<32 chars>.jpg``. Names are
    independent, so knowing a thumbnail's name reveals nothing about the
    display variant's. Keep the returned names in the database and pass them
    to :func:`open_path` and :func:`delete`. A full disk raises ``OSError``
    (``ENOSPC``), answered 507 by the web layer, and leaves no file behind.
    """
    root = _photos_root(media_dir)
    stored = StoredPhoto(display_name=_new_name(), thumb_name=_new_name())
    _write_atomically(root, stored.display_name, processed.display)
    try:
        _write_atomically(root, stored.thumb_name, processed.thumb)
    except BaseException:
        (_shard(root, stored.display_name) / stored.display_name).unlink(missing_ok=True)
        raise
    return stored


def delete(names: Iterable[str], media_dir: str | os.PathLike[str]) -> int:
    """Remove stored photos by name; returns how many files were removed.

    Every name is checked before anything is removed, so a bad name in the
    batch (:class:`InvalidPhotoName`) removes nothing. Names whose file is
    already gone are skipped, so a retried deletion job succeeds.
    """
    checked = [_check_name(name) for name in names]
    root = _photos_root(media_dir)
    removed = 0
    for name in checked:
        try:
            (_shard(root, name) / name).unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed


def served(
    name: str, media_dir: str | os.PathLike[str], *, cache_control: str, missing: str = ""
) -> File:
    """A stored photo as the answer to a request: inline JPEG, ``nosniff``, ``cache_control``.

    A name this module cannot have made, or a photo that is gone, is a 404 (``missing``: its
    message). The caller has checked that the person may see the photo's object.
    """
    try:
        path = open_path(name, media_dir)
    except (InvalidPhotoName, FileNotFoundError):
        raise (NotFoundException(missing) if missing else NotFoundException()) from None
    return File(
        path=path,
        media_type="image/jpeg",
        content_disposition_type="inline",
        filename=name,
        headers={"cache-control": cache_control, "x-content-type-options": "nosniff"},
    )


def open_path(name: str, media_dir: str | os.PathLike[str]) -> Path:
    """The path of a stored photo, for serving it (as ``image/jpeg``, with ``nosniff``).

    Raises :class:`InvalidPhotoName` for any name :func:`save` cannot have
    made (``../``, absolute paths, other extensions, temporary files) and
    :class:`FileNotFoundError` when the photo does not exist (deleted, or a
    folder redirected outside the media directory). Serve both as 404.
    """
    _check_name(name)
    root = _photos_root(media_dir)
    path = (_shard(root, name) / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise FileNotFoundError(name)
    return path


class PendingPhotos:
    """Photo files written before the write transaction that records them, removed unless kept.

    ::

        with PendingPhotos(processed, media_dir) as pending:   # files written, no lock held
            begin_write(db)
            ... rows naming pending.stored[i] ...
            db.commit()
            pending.keep()

    Leaving the block without :meth:`keep` (a form error, an exception)
    removes the files again. A crash in between leaves orphans for the sweep.
    """

    def __init__(self, photos: Sequence[Encoded], media_dir: str | os.PathLike[str]) -> None:
        self.media_dir = media_dir
        self.stored: list[StoredPhoto] = []
        self._kept = False
        try:
            for photo in photos:
                self.stored.append(save(photo, media_dir))
        except BaseException:
            self.discard()
            raise

    def keep(self) -> None:
        """The rows naming these files are committed: leave the files in place."""
        self._kept = True

    def discard(self) -> None:
        """Remove the files (nothing names them)."""
        names = [n for s in self.stored for n in (s.display_name, s.thumb_name)]
        self.stored = []
        if names:
            delete(names, self.media_dir)

    def __enter__(self) -> PendingPhotos:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._kept:
            self.discard()


def orphans(
    media_dir: str | os.PathLike[str],
    is_known: KnownNames,
    *,
    older_than_s: float,
    now: float | None = None,
) -> Iterator[Path]:
    """Files under the photo folder older than ``older_than_s`` that no row names.

    ``is_known(names)`` gets a batch of stored names and returns those some
    row still names. Leftover temporary files (a write interrupted by a
    crash) older than the grace period are orphans too. Younger files are
    never returned: their row may be about to commit.
    """
    root = _photos_root(media_dir)
    if not root.is_dir():
        return
    cutoff = (time.time() if now is None else now) - older_than_s
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        old: dict[str, Path] = {}
        for path in folder.iterdir():
            try:
                if not path.is_file() or path.is_symlink() or path.stat().st_mtime > cutoff:
                    continue
            except FileNotFoundError:
                continue
            if _TMP_RE.match(path.name):
                yield path
            elif _NAME_RE.match(path.name):
                old[path.name] = path
        if old:
            known = is_known(list(old))
            for name, path in old.items():
                if name not in known:
                    yield path
