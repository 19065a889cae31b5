"""What retention keeps of the rows it deletes: counts per source, month and key.

``history_months`` holds, for every finished command, push delivery and job
that retention removed, one count per (source, month, key) — for instance
(``light_commands``, ``2026-03``, ``program:applied``) — so monthly figures
survive the purge (``app.retention``).
"""

from __future__ import annotations

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class HistoryMonth(SQLModel, table=True):
    __tablename__ = "history_months"
    __table_args__ = (UniqueConstraint("source", "month", "key", name="uq_history_months"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=40)  # the table the rows came from
    month: str = Field(max_length=7)  # YYYY-MM (UTC) of the row's end
    key: str = Field(max_length=80)  # what the rows were (kind and state, ...)
    count: int = 0
