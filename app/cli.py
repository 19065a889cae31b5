"""The ``eclor`` command (see README.md and DESIGN.md for the contract)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.settings import Settings, SettingsError, get_settings

if TYPE_CHECKING:
    from app.mqtt_broker import EmbeddedBroker

log = logging.getLogger("eclor.cli")


def _engine(settings: Settings):
    from app.db import engine_for

    return engine_for(settings)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app import logs

    logs.setup()
    background = None
    if args.with_worker:
        background = start_background_services(settings)
    proxies = proxy_options(settings)
    try:
        if args.workers > 1:
            uvicorn.run(
                "app.asgi:app",
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_config=None,
                access_log=False,
                **proxies,
            )
        else:
            from app.main import create_app

            uvicorn.run(
                create_app(settings),
                host=args.host,
                port=args.port,
                log_config=None,
                access_log=False,
                **proxies,
            )
    finally:
        if background:
            background()
    return 0


def embedded_broker(settings: Settings, engine=None) -> EmbeddedBroker:
    """The in-process MQTT broker as the settings describe it (not started).

    Clients need their account (app/mqtt_auth.py) unless ``ECLOR_MQTT_ANONYMOUS``; gateways'
    rights come from the inventory; TLS when ``ECLOR_MQTT_TLS_CERT``/``_KEY`` are set.
    """
    import ssl

    from app.lighting.fleet import gateway_devices
    from app.mqtt_auth import Accounts
    from app.mqtt_broker import EmbeddedBroker

    accounts = None
    if not settings.mqtt_anonymous:
        accounts = Accounts(
            settings.mqtt_key,
            settings.mqtt_prefix,
            gateway_devices(engine if engine is not None else _engine(settings)),
        )
    context = None
    if settings.mqtt_tls_cert and settings.mqtt_tls_key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(settings.mqtt_tls_cert, settings.mqtt_tls_key)
    return EmbeddedBroker(
        port=settings.mqtt_embedded_port,
        max_packet_size=settings.mqtt_max_packet_bytes,
        authenticator=accounts,
        ssl=context,
    )


def proxy_options(settings: Settings) -> dict[str, Any]:
    """Forwarded headers are read only from the configured proxies: ``ECLOR_TRUSTED_PROXIES``, else
    ``FORWARDED_ALLOW_IPS`` (read by uvicorn); with neither, from nobody (not even loopback)."""
    if settings.trusted_proxies:
        return {"proxy_headers": True, "forwarded_allow_ips": ",".join(settings.trusted_proxies)}
    if os.environ.get("FORWARDED_ALLOW_IPS"):
        return {"proxy_headers": True}
    return {"proxy_headers": False}


def start_background_services(settings: Settings) -> Callable[[], None]:
    """Start the worker (and, on embedded defaults, the MQTT broker) in this process.

    Returns a function that stops them.
    """
    from workers import runner

    stops: list[Callable[[], None]] = []
    broker = None
    if not settings.mqtt_url:
        try:
            from app.mqtt_broker import EmbeddedBroker  # noqa: F401
        except ImportError:
            embedded = False
        else:
            embedded = True
        if embedded:
            broker = embedded_broker(settings).start_in_thread()
            scheme = "mqtts" if settings.mqtt_tls_cert and settings.mqtt_tls_key else "mqtt"
            settings.mqtt_url = f"{scheme}://127.0.0.1:{broker.port}"
            stops.append(broker.stop)
            log.info("embedded MQTT broker started", extra={"url": settings.mqtt_url})

    engine = _engine(settings)
    loop = asyncio.new_event_loop()
    stop_event = asyncio.Event()

    async def main() -> None:
        # Supervised: a loop that dies is started again, and /healthz shows the worker's heartbeat.
        await runner.run_forever(settings, engine, stop_event)

    thread = threading.Thread(
        target=loop.run_until_complete, args=(main(),), name="eclor-worker", daemon=True
    )
    thread.start()
    if (
        broker is not None
    ):  # embedded defaults: the demo fleet plays the inventory so the app shows it living
        from app.lighting.fleet import start_demo_fleet

        telemetry = f"{settings.mqtt_prefix}/tele/light/demo"
        stops.append(
            start_demo_fleet(
                settings, engine, ready=lambda: broker.broker.has_subscriber(telemetry)
            )
        )

    def stop() -> None:
        loop.call_soon_threadsafe(stop_event.set)
        thread.join(timeout=15)
        for fn in reversed(stops):
            fn()

    return stop


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from app import logs
    from workers import runner

    logs.setup()
    engine = _engine(settings)
    ran = asyncio.run(runner.run(settings, engine, once=args.once))
    if args.once:
        print(f"{ran} job(s) run")
    return 0


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from app.migrate import RevisionError, revision, upgrade

    if args.action == "upgrade":
        upgrade(settings.resolved_database_url)
        print("database schema is up to date")
    elif args.action == "revision":
        if not args.message:
            print("eclor db revision needs -m MESSAGE", file=sys.stderr)
            return 2
        try:
            path = revision(
                settings.resolved_database_url,
                args.message,
                head=args.head,
                branch_label=args.branch_label,
                autogenerate=not args.empty,
            )
        except RevisionError as exc:
            print(f"no migration written: {exc}", file=sys.stderr)
            return 2
        print(
            f"new migration: {path}\nread it (autogenerate is a draft), then run the migration tests"
        )
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from app import domains
    from app.demo import load_all
    from app.migrate import upgrade

    upgrade(settings.resolved_database_url)
    domains.install()
    said = load_all(_engine(settings), domains.demo_loaders(), seed=args.seed)
    for line in said:
        print(line)
    if not said:
        print("demo data already loaded")
    return 0


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import IntegrityError

    from app import auth
    from app.db import write_session

    if args.password:
        problem = auth.validate_password(args.password)
        if problem:
            print(problem, file=sys.stderr)
            return 2
    try:
        with write_session(_engine(settings)) as session:
            user = auth.create_user(session, args.email, role=args.role, password=args.password)
            print(f"user {user.email} created with role {user.role} (id {user.id})")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except IntegrityError:
        print(f"error: a user with e-mail {args.email} already exists", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eclor", description="Eclor, the open platform of a smart territory."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="web processes (default 1)")
    p.add_argument(
        "--with-worker",
        action="store_true",
        help="also run the job worker (and, without ECLOR_MQTT_URL, the embedded MQTT broker) "
        "in this process: one command for a single machine",
    )
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("worker", help="run the worker")
    p.add_argument("--once", action="store_true", help="run the jobs due now, then exit")
    p.set_defaults(run=cmd_worker)

    p = sub.add_parser("db", help="database schema: upgrade, or a new autogenerated revision")
    p.add_argument("action", choices=["upgrade", "revision"])
    p.add_argument("-m", "--message", help="revision: what the migration changes")
    p.add_argument("--head", help="revision: the branch it follows, e.g. reports@head")
    p.add_argument("--branch-label", help="revision: label of a new branch (a new domain)")
    p.add_argument(
        "--empty", action="store_true", help="revision: an empty migration, not autogenerated"
    )
    p.set_defaults(run=cmd_db)

    p = sub.add_parser("demo", help="load demo data (idempotent)")
    p.add_argument("--seed", type=int, default=2026)
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("users", help="manage users")
    users = p.add_subparsers(dest="action", required=True)
    pc = users.add_parser("create", help="create a user")
    pc.add_argument("email")
    pc.add_argument(
        "--role",
        required=True,
        choices=["resident", "merchant", "staff", "admin", "superadmin"],
        help="superadmin: manages the territories (/admin/territories), on any host",
    )
    pc.add_argument("--password", default=None)
    pc.set_defaults(run=cmd_users)

    from app import domains

    for cmd in domains.commands():
        p = sub.add_parser(cmd.name, help=cmd.help)
        cmd.configure(p)
        p.set_defaults(run=cmd.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD", "0")
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except (SettingsError, ValueError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return int(args.run(args, settings) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
