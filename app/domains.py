"""The registry of Eclor's domains: the one list that the app, the CLI, the demo and the worker read.

Each domain is the union of what its layers contribute as plain values
(:class:`app.interfaces.Contribution`): ``app/<domain>/contributes.py`` for its
logic (jobs, worker services, commands, demo data, privacy, notification
channels, operations-centre layers, KPIs, events and measures) and
``app/routes/<domain>.py`` for its pages (routes, home panels, links on the
staff hub and the account page). Nothing registers itself by being imported.

- ``create_app()`` mounts :func:`routes` and calls :func:`install`;
- the CLI adds :func:`commands`; ``eclor demo`` runs :func:`demo_loaders`;
- the worker runs :func:`services` and calls :func:`install` (job handlers);
- :func:`install` hands the cross-domain interfaces to the core modules that
  serve them (``app.jobs``, ``app.home``, ``app.sections``, ``app.privacy``,
  ``app.notify``); it is idempotent.

A new domain adds one line to ``DOMAINS``.
"""

from __future__ import annotations

from typing import Any

from app import (
    domains_ops,
    home,
    jobs,
    mail,
    ngsi,
    notify,
    photo_sweep,
    privacy,
    retention,
    sections,
    telemetry_sinks,
    territory_cli,
    territory_demo,
    territory_files,
    work_orders,
)
from app.accounts import contributes as accounts
from app.alerts import contributes as alerts
from app.carpool import contributes as carpool
from app.insights import contributes as insights
from app.insights import registry as insights_registry
from app.interfaces import (
    Command,
    Contribution,
    DemoLoader,
    Domain,
    EventKind,
    Measure,
    Service,
)
from app.lighting import contributes as lighting
from app.maintenance import contributes as maintenance
from app.maintenance import registry as maintenance_registry
from app.opendata import contributes as opendata
from app.opendata import registry as opendata_registry
from app.participation import contributes as participation
from app.renovation import contributes as renovation
from app.reports import contributes as reports
from app.routes import accounts as accounts_routes
from app.routes import admin as admin_routes
from app.routes import territories_admin as territories_admin_routes
from app.routes import alerts as alerts_routes
from app.routes import carpool as carpool_routes
from app.routes import home as home_routes
from app.routes import insights as insights_routes
from app.routes import lighting as lighting_routes
from app.routes import maintenance as maintenance_routes
from app.routes import ngsi_ld as ngsi_routes
from app.routes import ngsi_subscriptions as ngsi_subscription_routes
from app.routes import open311 as open311_routes
from app.routes import opendata as opendata_routes
from app.routes import participation as participation_routes
from app.routes import ops as ops_routes
from app.routes import push as push_routes
from app.routes import renovation as renovation_routes
from app.routes import reports as reports_routes
from app.routes import sensors as sensors_routes
from app.routes import sharing as sharing_routes
from app.routes import shops as shops_routes
from app.routes import solidarity as solidarity_routes
from app.sensors import contributes as sensors
from app.sharing import contributes as sharing
from app.shops import contributes as shops
from app.solidarity import contributes as solidarity

# The core's own jobs and services (e-mail outbox, notifications, retention) and the home page.
CORE = Contribution(
    routes=home_routes.ROUTES,
    jobs={
        "mail.send": mail.deliver,
        "notify.user": notify.deliver,
        "notify.digest": notify.deliver_digest,
    },
    services=(retention.retention_service, photo_sweep.sweep_service),
    commands=(territory_cli.COMMAND,),
    # The second territory comes last: the other domains' demo data stays in the first one.
    demo=(DemoLoader(95, "territories", territory_demo.load_demo),),
)

DOMAINS: tuple[Domain, ...] = (
    Domain.of("core", CORE),
    Domain.of(
        "accounts",
        accounts.CONTRIBUTES,
        accounts_routes.CONTRIBUTES,
        admin_routes.CONTRIBUTES,
        territories_admin_routes.CONTRIBUTES,
    ),
    Domain.of("carpool", carpool.CONTRIBUTES, carpool_routes.CONTRIBUTES),
    Domain.of("sharing", sharing.CONTRIBUTES, sharing_routes.CONTRIBUTES),
    Domain.of("shops", shops.CONTRIBUTES, shops_routes.CONTRIBUTES),
    Domain.of("alerts", alerts.CONTRIBUTES, alerts_routes.CONTRIBUTES, push_routes.CONTRIBUTES),
    Domain.of(
        "reports", reports.CONTRIBUTES, reports_routes.CONTRIBUTES, open311_routes.CONTRIBUTES
    ),
    Domain.of("lighting", lighting.CONTRIBUTES, lighting_routes.CONTRIBUTES),
    Domain.of(
        "sensors",
        sensors.CONTRIBUTES,
        sensors_routes.CONTRIBUTES,
        ngsi_routes.CONTRIBUTES,
        ngsi_subscription_routes.CONTRIBUTES,
    ),
    Domain.of("ops", ops_routes.CONTRIBUTES),
    Domain.of("opendata", opendata.CONTRIBUTES, opendata_routes.CONTRIBUTES),
    Domain.of("maintenance", maintenance.CONTRIBUTES, maintenance_routes.CONTRIBUTES),
    Domain.of("participation", participation.CONTRIBUTES, participation_routes.CONTRIBUTES),
    Domain.of("renovation", renovation.CONTRIBUTES, renovation_routes.CONTRIBUTES),
    Domain.of("solidarity", solidarity.CONTRIBUTES, solidarity_routes.CONTRIBUTES),
    Domain.of("insights", insights.CONTRIBUTES, insights_routes.CONTRIBUTES),
)


def routes() -> list[Any]:
    return [handler for domain in DOMAINS for handler in domain.routes]


def commands() -> list[Command]:
    return sorted((c for domain in DOMAINS for c in domain.commands), key=lambda c: c.name)


def demo_loaders() -> list[DemoLoader]:
    return sorted((d for domain in DOMAINS for d in domain.demo), key=lambda d: d.order)


def services() -> list[Service]:
    return [s for domain in DOMAINS for s in domain.services]


def ops_layers() -> list[Any]:
    return [layer for domain in DOMAINS for layer in domain.ops_layers]


def kpis() -> list[Any]:
    return [kpi for domain in DOMAINS for kpi in domain.kpis]


def event_kinds() -> list[EventKind]:
    return [event for domain in DOMAINS for event in domain.events]


def measures() -> list[Measure]:
    return [measure for domain in DOMAINS for measure in domain.measures]


def open_datasets() -> list[Any]:
    """The datasets every domain publishes as open data (``app.opendata.contrib.OpenDataset``)."""
    return [dataset for domain in DOMAINS for dataset in domain.open_data]


def data_services() -> list[Any]:
    """The APIs the domains offer, listed in the open data catalogue (``app.opendata.contrib.Service``)."""
    return [service for domain in DOMAINS for service in domain.data_services]


def install() -> None:
    """Hand the cross-domain interfaces to the core modules that serve them (idempotent)."""
    jobs.register({kind: fn for domain in DOMAINS for kind, fn in domain.jobs.items()})
    notify.install({name: fn for domain in DOMAINS for name, fn in domain.channels.items()})
    privacy.install(hook for domain in DOMAINS for hook in domain.privacy)
    photo_sweep.install([named for domain in DOMAINS for named in domain.photo_names])
    home.install(panel for domain in DOMAINS for panel in domain.home_panels)
    sections.install(
        (link for domain in DOMAINS for link in domain.staff_links),
        (link for domain in DOMAINS for link in domain.account_links),
    )
    opendata_registry.install(open_datasets(), data_services())
    maintenance_registry.install(
        (locator for domain in DOMAINS for locator in domain.locators),
        (source for domain in DOMAINS for source in domain.work_sources),
    )
    ngsi.install(entity_type for domain in DOMAINS for entity_type in domain.ngsi_types)
    telemetry_sinks.install(
        {kind: fn for domain in DOMAINS for kind, fn in domain.telemetry_sinks.items()},
        [warm for domain in DOMAINS for warm in domain.telemetry_warm_ups],
    )
    work_orders.install(reader for domain in DOMAINS for reader in domain.work_orders)
    insights_registry.install(
        (figure for domain in DOMAINS for figure in domain.figures),
        (source for domain in DOMAINS for source in domain.trips),
        (meters for domain in DOMAINS for meters in domain.energy_meters),
    )
    territory_files.install(part for domain in DOMAINS for part in domain.bundle_files)
    domains_ops.install(
        ops_layers(), kpis(), (action for domain in DOMAINS for action in domain.ops_actions)
    )
