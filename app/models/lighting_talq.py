"""TALQ: the gateways that speak for lights, and where Eclor's lights and groups are in TALQ.

- ``talq_gateways``: a TALQ gateway Eclor is the CMS of. ``address`` is the
  gateway address (a UUID) Eclor assigns at bootstrap and the gateway sends
  as ``clientAddress``; only the SHA-256 of its key is kept
  (``eclor talq gateway add NAME`` prints the key once). ``services`` is the
  last list of services the gateway announced (``POST /services``), as JSON.
- ``talq_devices``: an Eclor light as a TALQ device of a gateway: its device
  address and the ids of its ``LampActuatorFunction`` (commands) and
  ``LampMonitorFunction`` (measurements) functions.
- ``talq_groups``: an Eclor lighting group held by a gateway as a TALQ group,
  so a group command is one override command to the group address.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from app.db import utcnow


class TalqGateway(SQLModel, table=True):
    __tablename__ = "talq_gateways"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    address: str = Field(max_length=36, unique=True)  # TALQ gateway address (UUID)
    key_hash: str = Field(max_length=64, unique=True)
    key_prefix: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    services: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_seen_at: datetime | None = None


class TalqDevice(SQLModel, table=True):
    __tablename__ = "talq_devices"

    light_id: str = Field(
        primary_key=True, foreign_key="streetlights.id", max_length=64, ondelete="CASCADE"
    )
    gateway_id: int = Field(foreign_key="talq_gateways.id", index=True, ondelete="CASCADE")
    device_address: str = Field(max_length=36, unique=True)  # TALQ device address (UUID)
    actuator_function: str = Field(default="", max_length=64)  # LampActuatorFunction id
    monitor_function: str = Field(default="", max_length=64)  # LampMonitorFunction id
    updated_at: datetime = Field(default_factory=utcnow)


class TalqGroup(SQLModel, table=True):
    __tablename__ = "talq_groups"

    group_id: str = Field(
        primary_key=True, foreign_key="light_groups.id", max_length=64, ondelete="CASCADE"
    )
    gateway_id: int = Field(foreign_key="talq_gateways.id", index=True, ondelete="CASCADE")
    group_address: str = Field(max_length=36, unique=True)  # TALQ group address (UUID)
    updated_at: datetime = Field(default_factory=utcnow)
