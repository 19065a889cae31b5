"""The interfaces through which domains meet, declared in one place.

A domain never imports another domain's logic and never registers itself
by being imported. It exposes what it contributes as plain values (a
:class:`Contribution` in ``app/<domain>/contributes.py`` for its logic, and
one in ``app/routes/<domain>.py`` for its pages); ``app.domains`` lists the
domains and :func:`app.domains.install` hands these values to the core
(the job queue, the home page, the shared pages, privacy, notifications),
while ``create_app()``, the CLI, the demo loader and the worker read the
registry directly.

The operations-centre slots (``ops_layers``, ``kpis``, ``events``,
``measures``) are declared here so the operations centre reads every domain
the same way.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlmodel import Session

from app.auth import CurrentUser
from app.jobs import Handler
from app.notify import Channel
from app.settings import Settings

# --- the home page ---------------------------------------------------------------------------

PanelLoader = Callable[[Session, CurrentUser | None], dict[str, Any] | None]


@dataclass(frozen=True)
class Panel:
    """A panel of the home page: its loader returns the template's context, or None to show nothing."""

    name: str
    order: int
    template: str
    load: PanelLoader


# --- links on shared pages (the staff hub /staff, the account page /me) ----------------------


@dataclass(frozen=True)
class Link:
    order: int
    url: str
    title: str  # French source string, translated at render time
    description: str = ""  # French source string
    roles: tuple[str, ...] = ()  # empty: everyone who can see the page


# --- the command line ------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """An ``eclor`` subcommand: ``configure`` adds its arguments, ``run`` returns the exit code."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Settings], int]


# --- demo data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLoader:
    """Loads a domain's demo data in its own write transaction; idempotent; says what it added."""

    order: int
    name: str
    load: Callable[[Session, random.Random], str | None]


# --- personal data (GDPR export and erasure) ---------------------------------------------------

Exporter = Callable[[Session, int, Path], tuple[Any, list[Path]]]
Eraser = Callable[[Session, int, Path], list[Path]]


@dataclass(frozen=True)
class Privacy:
    """What a domain holds on a person: ``export`` returns (json-able, files); ``erase`` deletes or
    anonymises the rows in the caller's transaction and returns the files to delete after commit."""

    name: str
    export: Exporter
    erase: Eraser


# --- a territory's bundle (eclor territory export / import) -------------------------------------


@dataclass(frozen=True)
class BundleFiles:
    """Files a domain carries in a territory's bundle beside its set-up rows, under ``folder/``.

    ``export(session, territory_id, var_dir)`` gives ``(file name, path)`` of the files to carry
    (read from disk as the zip is written); it raises ``ValueError`` (a French message) for a file
    that must not leave, such as one holding what looks like personal data.
    ``load(session, territory_id, var_dir, setup, files)`` checks the bundle's files (``files``: file
    name -> a function opening it as a binary stream; ``setup``: the bundle's set-up rows by table),
    once the territory's rows are written in the caller's transaction; it writes them beside their
    place and returns the function that puts them in place, or raises ``ValueError`` (French) having
    written nothing.
    """

    folder: str
    export: Callable[[Session, int, Path], list[tuple[str, Path]]]
    load: Callable[
        [Session, int, Path, Mapping[str, list[dict[str, Any]]], Mapping[str, Callable[[], Any]]],
        Callable[[], None],
    ]


# --- the worker --------------------------------------------------------------------------------

# A long-running task started with every worker (it gets the worker's runtime: settings, engine, stop).
Service = Callable[[Any], Awaitable[None]]


# --- the operations centre -------------------------------------------------------------------
# Its layers, KPIs and commune actions are the values of ``app.ops.contracts`` (``Layer``, ``Kpi``,
# ``Action``), which each domain defines in ``app/<domain>/ops.py`` and contributes in the slots below
# (``ops_layers``, ``kpis``, ``ops_actions``); ``app.domains_ops`` reads them from the registry;
# events go through ``app.events`` and measures into ``app.timeseries``.


@dataclass(frozen=True)
class EventKind:
    """A kind of event a domain publishes to the event outbox (``app.events``) for live views."""

    stream: str
    kind: str
    title: str  # French source string


@dataclass(frozen=True)
class Measure:
    """A measure a domain writes into the one time-series store (``app.timeseries``)."""

    entity_type: str
    name: str
    unit: str


# --- maintenance: where things are, and the residents' reports a work order fixes -----------------
# Read by the rules and work orders (``app.maintenance``) through the registry; a domain that holds
# devices offers a ``Locator`` for its operations-centre layer, the reports domain a ``WorkSource``.


@dataclass(frozen=True)
class Place:
    """What a feature of a layer is and where: a rule's scope and an alarm's position."""

    label: str
    commune_insee: str | None
    lat: float | None
    lon: float | None
    kind: str = ""  # the sensor kind (waste_centre, air_quality...), "light", "group", "cabinet"
    period_s: int = 0  # expected reporting period, 0 when none
    last_seen: Any = None  # aware datetime of the last reading, or None
    # A device: the collections it belongs to, as (layer, id), e.g. (("groups", "G1"), ("cabinets",
    # "C1")); a rule on one of those layers is evaluated again when the device changes.
    within: tuple[tuple[str, str], ...] = ()
    # A collection (a lighting group, a cabinet): figures over its members by name ("members": how
    # many, a state such as "offline" or "fault": how many are in it, "power_w", "level"...).
    figures: Mapping[str, float] = field(default_factory=dict, hash=False, compare=False)
    entity: str = ""  # the NGSI-LD URN its measures are kept under in app.timeseries, "" when none
    territory_id: int | None = None  # the territory it belongs to (a rule of another never sees it)


@dataclass(frozen=True)
class Locator:
    """The places of a layer's features, by feature id; ``all`` lists every one (silence checks)."""

    layer: str
    locate: Callable[[Session, Sequence[str]], dict[str, Place]]
    all: Callable[[Session], dict[str, Place]]


@dataclass(frozen=True)
class WorkItem:
    """A resident's report as rules and work orders see it (no person in it)."""

    id: int
    number: str
    category: str
    commune_insee: str | None
    lat: float
    lon: float
    created_at: Any  # aware datetime
    is_open: bool
    url: str
    territory_id: int | None = None  # the territory it belongs to


@dataclass(frozen=True)
class WorkSource:
    """Residents' reports: read them, find them around a place, resolve them when the fix is done.

    ``resolve(session, ids, actor_id, note, after_photo, media_dir)`` resolves the open ones with
    the "after" photo (an ``app.images.ProcessedPhoto`` or None) and tells every reporter and
    follower once; it returns the ids it resolved.
    """

    layer: str
    load: Callable[[Session, Sequence[int]], list[WorkItem]]
    around: Callable[
        [Session, float, float, int, Any, str], list[WorkItem]
    ]  # lat, lon, m, since, category
    # open, created before the given moment, of the given territory (every one's for None)
    overdue: Callable[[Session, Any, int | None], list[WorkItem]]
    resolve: Callable[[Session, Sequence[int], int | None, str, Any, Path | None], list[int]]
    # the categories of the session's territory: (code, French label or the staff's own), archived
    # ones too (a rule, a watch or an old order may still name one)
    categories: Callable[[Session], list[tuple[str, str]]]
    # the ones a new rule or watch may name: the territory's categories that are not archived
    offered: Callable[[Session], list[tuple[str, str]]]


# --- work orders, as other domains may see them (a participatory budget's winning projects) -----


@dataclass(frozen=True)
class OrderProgress:
    """A work order as others see it: no assignee, no notes."""

    id: int
    title: str
    state: str  # new, planned, in_progress, done, cancelled
    state_label: str  # French source string
    due_on: Any  # date or None
    closed_at: Any  # aware datetime or None
    commune_insee: str | None


@dataclass(frozen=True)
class WorkOrders:
    """Maintenance's work orders read by id (``progress``) or listed for staff to link (``recent``)."""

    progress: Callable[[Session, Sequence[int]], dict[int, OrderProgress]]
    recent: Callable[[Session, int], list[OrderProgress]]  # the latest orders, at most n


# --- decision support: the monthly figures and trips a domain contributes (read by app.insights) --
# A domain says what it counts per month and commune (``MonthlyFigure``) and, for mobility, the trips
# between two points (``TripSource``); the decision-support pages (``app.insights``) join them with
# the communes' populations, compare months and hide small counts as open data does.

MonthRange = tuple[str, str]  # first and last month, ``YYYY-MM`` (the territory's), both included
# (session, first month, last month) -> {(month, commune INSEE or ""): value}
MonthlyLoad = Callable[[Session, str, str], Mapping[tuple[str, str], float]]


@dataclass(frozen=True)
class Factor:
    """A conversion stated on the page: so many euros or kilograms of CO₂e per unit, with its source."""

    per_unit: float
    unit: str  # "€" or "kg CO₂e"
    source: str  # French source string


@dataclass(frozen=True)
class MonthlyFigure:
    """A figure a domain counts per month and commune.

    ``kind`` ``count``: summed over communes and months, hidden under the open-data threshold, also
    given per 1,000 residents; ``amount``: summed but never hidden (energy, distances); ``mean``: an
    average (a wait, a concentration), neither summed nor hidden nor per resident.
    """

    name: str
    theme: str  # reports, energy, mobility, waste, air, shops, sharing
    title: str  # French source string
    unit: str
    order: int
    load: MonthlyLoad
    kind: str = "count"
    euros: Factor | None = None
    co2: Factor | None = None
    better: str = "up"  # which way is good news: up, down
    per_resident: bool = True  # also per 1,000 residents (not for vehicles counted at a crossing)


@dataclass(frozen=True)
class Trip:
    """Trips of a month between two points (no person): what the origin–destination matrix counts.

    ``kind``: ``booked`` (a seat on a travelled day of an accepted booking), ``proof`` (a proof of
    carpooling sent), ``offered`` / ``requested`` (ads published), ``unmatched`` (a request that
    no booking answered), ``crossing`` (vehicles counted at a border crossing).
    """

    month: str
    kind: str
    from_lat: float
    from_lon: float
    from_country: str
    to_lat: float
    to_lon: float
    to_country: str
    trips: int
    distance_m: int = 0
    hour: int | None = None  # local hour of departure, when known (peak hours)
    label: str = ""  # the crossing's name, for crossings


@dataclass(frozen=True)
class TripSource:
    name: str
    load: Callable[[Session, str, str], Iterable[Trip]]


@dataclass(frozen=True)
class MeteredPlace:
    """A place whose energy a domain meters (lighting: a cabinet), named with what it feeds."""

    code: str
    name: str
    commune: str  # INSEE code, "" when unknown
    feeds: tuple[str, ...] = ()  # the groups (or circuits) behind it, by name


@dataclass(frozen=True)
class EnergyMeters:
    """What a domain measures per metered place and month, to compare with readings or invoices of
    the years before a renovation (``app.insights.baseline``): ``places`` the metered places,
    ``measured`` (session, first, last) -> {(month, place code): kWh}; ``modelled`` (session, month)
    -> (kWh measured, kWh of the modelled old installation) for the whole fleet, or None."""

    name: str
    title: str  # French source string
    places: Callable[[Session], Sequence[MeteredPlace]]
    measured: Callable[[Session, str, str], Mapping[tuple[str, str], float]]
    modelled: Callable[[Session, str], tuple[float, float] | None]
    target: float  # the promised saving, as a fraction (0.70)
    target_source: str  # French source string
    euros: Factor  # per kWh, when an invoice gives no price
    co2: Factor  # per kWh


# --- what a domain contributes -----------------------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    """Everything one layer of a domain adds to Eclor, as values (all optional)."""

    routes: Sequence[Any] = ()
    home_panels: Sequence[Panel] = ()
    staff_links: Sequence[Link] = ()
    account_links: Sequence[Link] = ()
    commands: Sequence[Command] = ()
    demo: Sequence[DemoLoader] = ()
    jobs: Mapping[str, Handler] = field(default_factory=dict)
    services: Sequence[Service] = ()
    privacy: Sequence[Privacy] = ()
    channels: Mapping[str, Channel] = field(default_factory=dict)
    ops_layers: Sequence[Any] = ()  # app.ops.contracts.Layer
    kpis: Sequence[Any] = ()  # app.ops.contracts.Kpi
    ops_actions: Sequence[
        Any
    ] = ()  # app.ops.contracts: (insee) -> Action, offered on every panel with a commune
    events: Sequence[EventKind] = ()
    measures: Sequence[Measure] = ()
    open_data: Sequence[
        Any
    ] = ()  # app.opendata.contrib.OpenDataset: the datasets a domain publishes
    data_services: Sequence[
        Any
    ] = ()  # app.opendata.contrib.Service: its APIs, listed in the DCAT catalogue
    locators: Sequence[Locator] = ()
    work_sources: Sequence[WorkSource] = ()
    ngsi_types: Sequence[Any] = ()  # app.ngsi.EntityType: entity types served by the NGSI-LD API
    # app.photo_sweep.NamedBy: of a batch of stored photo names, those the domain's rows name
    photo_names: Sequence[Any] = ()
    # The device messages a domain stores, by kind (app.telemetry_sinks.Sink): the relay reads every
    # device's MQTT messages and hands each kind to the domain that owns those devices.
    telemetry_sinks: Mapping[str, Any] = field(default_factory=dict)
    # What those sinks load lazily (pvlib for the solar sites...), loaded by the relay before a
    # batch's write transaction instead of inside it: callables without arguments.
    telemetry_warm_ups: Sequence[Any] = ()
    # Maintenance's work orders offered to the other domains (read through app.work_orders).
    work_orders: Sequence[WorkOrders] = ()
    # Decision support (app.insights): figures per month and commune, trips between places.
    figures: Sequence[MonthlyFigure] = ()
    trips: Sequence[TripSource] = ()
    energy_meters: Sequence[EnergyMeters] = ()
    # Files a territory's bundle carries (app.territory_files): the rows of uploaded datasets.
    bundle_files: Sequence[BundleFiles] = ()


@dataclass(frozen=True)
class Domain(Contribution):
    """A domain: its name and the union of what its layers contribute."""

    name: str = ""

    @classmethod
    def of(cls, name: str, *parts: Contribution) -> Domain:
        merged: dict[str, Any] = {}
        for f in fields(Contribution):
            values = [getattr(part, f.name) for part in parts]
            if isinstance(f.default, tuple):
                merged[f.name] = tuple(item for value in values for item in value)
            else:
                joined: dict[str, Any] = {}
                for value in values:
                    clash = joined.keys() & value.keys()
                    if clash:
                        raise ValueError(
                            f"domain {name}: {f.name} {sorted(clash)} contributed twice"
                        )
                    joined.update(value)
                merged[f.name] = joined
        return cls(name=name, **merged)
