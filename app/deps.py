"""Dependencies shared by the route modules."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import anyio
from litestar import Request
from sqlmodel import Session

from app.db import begin_write

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

LATE_WRITE = "late_write"
"""Route ``opt`` key: the handler opens its write transaction itself (:func:`start_writing`)."""


def late_write(opt: dict[str, Any]) -> dict[str, Any]:
    """``opt`` for a handler that does slow work (photos) before its write transaction opens.

    Its ``db`` session starts with no transaction; the handler checks and
    stores what is slow first, then calls :func:`start_writing` before its
    first query, so the write lock is held only for the writes themselves.
    """
    return {**opt, LATE_WRITE: True}


def start_writing(session: Session) -> None:
    """Open the session's write transaction now (BEGIN IMMEDIATE on SQLite).

    A read transaction the handler may have begun is ended first (it wrote
    nothing), so the writes never upgrade a read snapshot.
    """
    if session.in_transaction():
        session.rollback()
    begin_write(session)


async def provide_db(request: Request[Any, Any, Any]) -> AsyncGenerator[Session, None]:
    """A database session for the request; unsafe methods take the write lock up front.

    Taking the lock may wait (another writer holds it): that wait happens in a
    worker thread, never on the event loop, so other requests go on meanwhile.
    Handlers marked :func:`late_write` take it themselves, after their slow work.
    """
    session = Session(request.app.state.engine, expire_on_commit=False)
    unsafe = request.method not in SAFE_METHODS
    writing = unsafe and not request.route_handler.opt.get(LATE_WRITE)
    try:
        if writing:
            await anyio.to_thread.run_sync(begin_write, session)
        yield session
    finally:
        if unsafe:
            await anyio.to_thread.run_sync(session.close)
        else:
            session.close()
