"""The orphan-photo sweep: files under the photo folder that no row names are removed.

Photo files are written before the transaction that records them
(``app.photo_store.PendingPhotos``); a crash in between, or a deletion whose
file removal failed, leaves files nothing names. A worker service removes
them every ``photo_sweep_every_minutes`` once they are older than
``photo_orphan_grace_hours`` (a younger file may belong to a row about to
commit). Which names are in use is asked of the domains that keep photos
(``Contribution.photo_names``): each answers, of a batch of names, those its
rows name. With no domain declaring photos the sweep removes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlmodel import select
from sqlalchemy.engine import Engine

from app import photo_store
from app.db import read_session

log = logging.getLogger("eclor.photo_sweep")

NamedBy = Callable[[Any, list[str]], set[str]]
"""(session, names) -> the names some row of a domain names."""

_OWNERS: list[NamedBy] = []


def named_by(*columns: Any) -> NamedBy:
    """A ``photo_names`` contribution: the names found in these columns (``Model.column``)."""

    def found(session: Any, names: list[str]) -> set[str]:
        seen: set[str] = set()
        for column in columns:
            seen.update(session.scalars(select(column).where(column.in_(names))).all())
        return seen

    found.columns = columns  # type: ignore[attr-defined]  # what it covers (checked by the tests)
    return found


def install(owners: Sequence[NamedBy]) -> None:
    _OWNERS[:] = list(owners)


def run(engine: Engine, media_dir: Any, *, grace_hours: float, now: float | None = None) -> int:
    """One pass: remove the orphan photo files older than ``grace_hours``; how many were removed."""
    if not _OWNERS:
        return 0

    def known(names: list[str]) -> set[str]:
        with read_session(engine) as session:
            return {name for owner in _OWNERS for name in owner(session, names)}

    removed = 0
    for path in list(
        photo_store.orphans(media_dir, known, older_than_s=grace_hours * 3600, now=now)
    ):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed


async def sweep_service(rt: Any) -> None:
    """The worker service: a sweep every ``photo_sweep_every_minutes``; a failure waits for the next."""
    settings = rt.settings
    while not rt.stop.is_set():
        try:
            removed = await asyncio.to_thread(
                run,
                rt.engine,
                settings.resolved_media_dir,
                grace_hours=settings.photo_orphan_grace_hours,
            )
            if removed:
                log.info("orphan photos removed", extra={"removed": removed})
        except Exception:  # never fatal to the worker: the next pass tries again
            log.exception("photo sweep failed")
        try:
            await asyncio.wait_for(
                rt.stop.wait(), timeout=max(1.0, settings.photo_sweep_every_minutes * 60)
            )
        except TimeoutError:
            pass
