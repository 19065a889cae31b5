"""Dependencies shared by the route modules."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from litestar import Request
from sqlmodel import Session

from app.db import begin_write

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def provide_db(request: Request[Any, Any, Any]) -> Generator[Session, None, None]:
    """A database session for the request; unsafe methods take the write lock up front."""
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        if request.method not in SAFE_METHODS:
            begin_write(session)
        yield session
    finally:
        session.close()
