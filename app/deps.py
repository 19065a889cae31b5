"""Dependencies shared by the route modules."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextvars import ContextVar
from typing import Any

import anyio
from litestar import Request
from sqlmodel import Session

from app.db import begin_write, wrote_nothing
from app.territories import bind, request_territory

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


# The sessions of the request being answered (set at the ASGI boundary, app.main.Eclor).
REQUEST_SESSIONS: ContextVar[list[Session] | None] = ContextVar("eclor_sessions", default=None)


def end_idle_writes() -> None:
    """End the request's write transactions that wrote nothing (a form sent back with its errors,
    a refusal), so the write lock is not held while a page is rendered (app.templating.page, in the
    handler's thread) or after the handler returns (:func:`end_idle_write`). A transaction that
    wrote is left to the handler: its commit, or the rollback when the session closes.
    """
    for session in REQUEST_SESSIONS.get() or ():
        if wrote_nothing(session):
            # A commit of nothing: objects the page reads stay loaded (a rollback would expire them).
            session.commit()


async def end_idle_write(response: Any) -> Any:
    """After the handler, before its response is rendered (Litestar's ``after_request``)."""
    if any(wrote_nothing(session) for session in REQUEST_SESSIONS.get() or ()):
        await anyio.to_thread.run_sync(end_idle_writes)
    return response


async def provide_db(request: Request[Any, Any, Any]) -> AsyncGenerator[Session, None]:
    """A database session for the request; unsafe methods take the write lock up front.

    Taking the lock may wait (another writer holds it): that wait happens in a
    worker thread, never on the event loop, so other requests go on meanwhile.
    Handlers marked :func:`late_write` take it themselves, after their slow work.
    """
    session = Session(request.app.state.engine, expire_on_commit=False)
    # The request's territory goes with its session (a domain's queries read it: of_session).
    bind(session, request_territory(request))
    unsafe = request.method not in SAFE_METHODS
    writing = unsafe and not request.route_handler.opt.get(LATE_WRITE)
    if unsafe and (sessions := REQUEST_SESSIONS.get()) is not None:
        sessions.append(session)
    try:
        if writing:
            await anyio.to_thread.run_sync(begin_write, session)
        yield session
    finally:
        if unsafe:
            await anyio.to_thread.run_sync(session.close)
        else:
            session.close()
