"""The event outbox: one row per change that live views (the operations centre, open-data streams) follow.

Rows are written by ``app.events.publish`` in the transaction of the change
itself, so an event exists if and only if the change was committed. Ids grow
in commit order (see ``app.events``); readers resume after the last id they saw.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from app.db import utcnow


class Event(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_layer_id", "layer", "id"),)  # a layer's newest event

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    layer: str = Field(max_length=40)  # "sensors", "lights", "reports"...
    feature_id: str = Field(max_length=120)  # the id of the feature on that layer
    kind: str = Field(max_length=40)  # "reading", "state", "raised", "cleared", "published"...
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON object
    # The territory of what changed (its live views only are shown it); None: install-wide.
    territory_id: int | None = None
