"""Carpooling: common places, ads (offers and requests), bookings, messages,
saved searches, profiles, reports and blocks.

A regular commute with a return is two ads (``leg`` outward / return) that
share a ``pair_id``: each direction has its own schedule and its own seats,
as a passenger may ride one way only. Positions are WGS 84 degrees in plain
indexed columns, so the search can prefilter with bounding boxes on any
database.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.db import utcnow
from app.geo import grid_cell
from app.models.territory import territory_field


class CarpoolPlace(SQLModel, table=True):
    """A common meeting point besides the communes' centres (park-and-ride, station, business district)."""

    __tablename__ = "carpool_places"

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int | None = Field(default=None, foreign_key="territories.id", index=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=120)
    kind: str = Field(default="place", max_length=16)  # park_ride, station, district, town
    country: str = Field(default="FR", max_length=2)
    lat: float
    lon: float


def _cell_of(prefix: str):
    """A column default: the grid cell of the ad's start or end, filled on every insert (ORM or bulk)."""

    def default(context) -> int:
        values = context.get_current_parameters()
        return grid_cell(values[f"{prefix}_lat"], values[f"{prefix}_lon"])

    return default


class CarpoolAd(SQLModel, table=True):
    """One direction of a trip offered by a driver or asked for by a passenger."""

    __tablename__ = "carpool_ads"
    __table_args__ = (
        # The search's prefilter is answered from this index (a range on the destination's latitude,
        # the other conditions checked on the index entries), so only matching rows are read from the table.
        Index(
            "ix_carpool_ads_search",
            "status",
            "role",
            "frequency",
            "to_lat",
            "to_lon",
            "from_lat",
            "from_lon",
            "days_mask",
            "window_start",
            "window_end",
            "seats_left",
            "departure_at",
        ),
        Index("ix_carpool_ads_departure", "status", "role", "departure_at"),
        # The spatial prefilter on both ends: equality on the grid cells of the end then the start
        # (a few cells each), then the time, the exact boxes and the rest read from the index entries:
        # the search ranks its candidates from this index alone (``matching.ranked_statement``).
        Index(
            "ix_carpool_ads_cells",
            "status",
            "role",
            "frequency",
            "to_cell",
            "from_cell",
            "departure_at",
            "to_lat",
            "to_lon",
            "from_lat",
            "from_lon",
            "days_mask",
            "window_start",
            "window_end",
            "seats_left",
            "valid_until",
            "territory_id",
        ),
        # The same for regular ads (whose ``departure_at`` is empty), keyed by the start of their time
        # window after the cells: a search reads only the ads whose window opens before its own ends,
        # not every regular ad around both ends (the evening commutes of a morning search).
        Index(
            "ix_carpool_ads_cells_regular",
            "status",
            "role",
            "frequency",
            "to_cell",
            "from_cell",
            "window_start",
            "to_lat",
            "to_lon",
            "from_lat",
            "from_lon",
            "days_mask",
            "window_end",
            "seats_left",
            "valid_until",
            "territory_id",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The territory whose host the ad was published on: found there, and from the territories that
    # share their offers with it (``carpool_shares``); its owner finds it on every host.
    territory_id: int = territory_field()
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=10)  # driver, passenger
    frequency: str = Field(max_length=10)  # punctual, regular
    leg: str = Field(default="outward", max_length=8)  # outward, return
    pair_id: int | None = Field(default=None, index=True)  # the id of the outward ad of a pair
    from_label: str = Field(max_length=120)
    from_lat: float
    from_lon: float
    to_label: str = Field(max_length=120)
    to_lat: float
    to_lon: float
    # Grid cells of the start and the end (``app.geo.grid_cell``), set from the coordinates when the
    # ad is written (coordinates never change afterwards): the search's spatial prefilter.
    from_cell: int | None = Field(
        default=None, sa_column=Column(Integer, default=_cell_of("from"), nullable=True)
    )
    to_cell: int | None = Field(
        default=None, sa_column=Column(Integer, default=_cell_of("to"), nullable=True)
    )
    distance_m: int  # estimated road distance
    cross_border: bool = Field(default=False)
    departure_at: datetime | None = None  # one-off trips
    margin_min: int = Field(default=15)  # one-off trips
    # Regular trips: JSON {"0": [minute_of_day, margin_min], ...}, weekday 0 = Monday, local time.
    schedule: str = Field(default="{}", max_length=400)
    days_mask: int = Field(
        default=0
    )  # bit d set when the trip runs on weekday d (one-off: its day)
    window_start: int = Field(
        default=0
    )  # earliest local minute of day (time - margin), for the prefilter
    window_end: int = Field(default=1439)  # latest local minute of day (time + margin)
    valid_until: date | None = None  # regular trips: last day (none: until closed)
    seats: int = Field(default=1)
    seats_left: int = Field(default=1)
    price_per_km_cents: int = Field(default=0)  # per passenger, drivers only
    comment: str = Field(default="", max_length=500)
    status: str = Field(default="active", max_length=10)  # active, closed, hidden
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CarpoolBooking(SQLModel, table=True):
    """A request to share an ad: a passenger asking a driver, or a driver offering a passenger a ride.

    The ad's owner accepts or declines; either party can cancel. Seats are
    taken from the ad when the request is made and given back when it is
    declined or cancelled.
    """

    __tablename__ = "carpool_bookings"
    __table_args__ = (
        # One open request per person and ad, even when two arrive at the same instant.
        Index(
            "ux_carpool_bookings_open",
            "ad_id",
            "requester_id",
            unique=True,
            sqlite_where=text("status IN ('pending', 'accepted')"),
            postgresql_where=text("status IN ('pending', 'accepted')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    ad_id: int = Field(foreign_key="carpool_ads.id", index=True, ondelete="CASCADE")
    requester_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    owner_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    seats: int = Field(default=1)
    status: str = Field(default="pending", max_length=10)  # pending, accepted, declined, cancelled
    cancelled_by: int | None = None
    distance_m: int = Field(default=0)
    price_cents: int = Field(default=0)  # per seat, for the whole trip
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    accepted_at: datetime | None = None
    # A booking made through the standard-covoiturage API: its id there (a UUID) and the operator.
    external_id: str | None = Field(default=None, max_length=64, unique=True)
    operator_id: int | None = Field(
        default=None, foreign_key="carpool_operators.id", ondelete="SET NULL"
    )
    pickup_at: datetime | None = None  # the passenger's pick-up time the operator asked for
    pickup_lat: float | None = None
    pickup_lon: float | None = None
    drop_lat: float | None = None
    drop_lon: float | None = None


class CarpoolMessage(SQLModel, table=True):
    __tablename__ = "carpool_messages"

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="carpool_bookings.id", index=True, ondelete="CASCADE")
    sender_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    body: str = Field(max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)


class CarpoolSearch(SQLModel, table=True):
    """A saved search: the person is told once about each new ad that matches it."""

    __tablename__ = "carpool_searches"

    id: int | None = Field(default=None, primary_key=True)
    # The territory whose host it was saved on: it hears of the ads found there.
    territory_id: int = territory_field()
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    role: str = Field(default="driver", max_length=10)  # the role of the ads sought
    frequency: str = Field(default="regular", max_length=10)
    from_label: str = Field(max_length=120)
    from_lat: float
    from_lon: float
    to_label: str = Field(max_length=120)
    to_lat: float
    to_lon: float
    on_date: date | None = None
    days_mask: int = Field(default=0)
    minute: int = Field(default=450)
    margin_min: int = Field(default=30)
    radius_m: int = Field(default=5000)
    created_at: datetime = Field(default_factory=utcnow)


class CarpoolAlertSent(SQLModel, table=True):
    """One row per (saved search, ad) already told about: an alert is sent once."""

    __tablename__ = "carpool_alerts_sent"
    __table_args__ = (UniqueConstraint("search_id", "ad_id"),)

    id: int | None = Field(default=None, primary_key=True)
    search_id: int = Field(foreign_key="carpool_searches.id", index=True, ondelete="CASCADE")
    ad_id: int = Field(foreign_key="carpool_ads.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


class CarpoolProfile(SQLModel, table=True):
    """What carpoolers show each other: a first name, optionally a phone and a photo."""

    __tablename__ = "carpool_profiles"

    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    first_name: str = Field(default="", max_length=40)
    phone: str = Field(default="", max_length=20)  # shown only after a booking is accepted
    # For proofs of carpooling only, given with consent: the registry's identity_key
    # (SHA-256 of "phone-LASTNAME") and the phone without its last two digits; neither is shown.
    proof_identity_key: str | None = Field(default=None, max_length=64)
    proof_phone_trunc: str | None = Field(default=None, max_length=14)
    proof_consent_at: datetime | None = None
    about: str = Field(default="", max_length=300)
    photo_name: str | None = Field(default=None, max_length=40)
    thumb_name: str | None = Field(default=None, max_length=40)
    updated_at: datetime = Field(default_factory=utcnow)


class CarpoolReport(SQLModel, table=True):
    """An ad reported as abusive, for staff moderation."""

    __tablename__ = "carpool_reports"

    id: int | None = Field(default=None, primary_key=True)
    ad_id: int = Field(foreign_key="carpool_ads.id", index=True, ondelete="CASCADE")
    reporter_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    reason: str = Field(max_length=20)
    details: str = Field(default="", max_length=1000)
    status: str = Field(default="open", max_length=10)  # open, hidden (ad hidden), dismissed
    created_at: datetime = Field(default_factory=utcnow)
    handled_by: int | None = None
    handled_at: datetime | None = None


class CarpoolBlock(SQLModel, table=True):
    """``blocker`` no longer sees ``blocked``'s ads, and ``blocked`` can no longer contact ``blocker``."""

    __tablename__ = "carpool_blocks"

    blocker_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    blocked_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


class CarpoolShare(SQLModel, table=True):
    """A territory's word that it shares its carpool offers with another territory of the install.

    The search on one territory's host finds the other's ads only when both have said so (a row
    each way); by default a territory shares with none."""

    __tablename__ = "carpool_shares"

    territory_id: int = Field(foreign_key="territories.id", primary_key=True, ondelete="CASCADE")
    partner_id: int = Field(foreign_key="territories.id", primary_key=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
