"""Dependencies shared by the route modules."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import anyio
from litestar import Request
from sqlmodel import Session

from app.db import begin_write

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def provide_db(request: Request[Any, Any, Any]) -> AsyncGenerator[Session, None]:
    """A database session for the request; unsafe methods take the write lock up front.

    Taking the lock may wait (another writer holds it): that wait happens in a
    worker thread, never on the event loop, so other requests go on meanwhile.
    """
    session = Session(request.app.state.engine, expire_on_commit=False)
    writing = request.method not in SAFE_METHODS
    try:
        if writing:
            await anyio.to_thread.run_sync(begin_write, session)
        yield session
    finally:
        if writing:
            await anyio.to_thread.run_sync(session.close)
        else:
            session.close()
