"""``eclor lights`` (overrides, back to program, inventory import) and ``eclor fleet`` (the simulator)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from sqlalchemy.engine import Engine

from app.db import make_engine
from app.interfaces import Command
from app.settings import Settings


def _configure_lights(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="lights_action", required=True)
    for name, help_text in (
        ("set", "override a group or a light (same path as the staff page)"),
        ("resume", "end the override: back to the program"),
    ):
        sub = actions.add_parser(name, help=help_text)
        target = sub.add_mutually_exclusive_group(required=True)
        target.add_argument("--group", help="group id (ends urn:ngsi-ld:StreetlightGroup:G)")
        target.add_argument("--light", help="light id (ends urn:ngsi-ld:Streetlight:L)")
        if name == "set":
            sub.add_argument("--level", type=int, required=True, help="0..100")
            sub.add_argument(
                "--minutes", type=int, default=None, help="duration (default: until resume)"
            )
    imp = actions.add_parser("import", help="import streetlights from a CSV or GeoJSON file")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--credentials",
        type=Path,
        default=None,
        help="write every device's and gateway's MQTT account (CSV) to this file",
    )


def _run_lights(args: argparse.Namespace, settings: Settings) -> int:
    from app.lighting import control
    from app.db import utcnow, write_session
    from app.lighting.programs import LightingError
    from app.lighting.inventory import InventoryError, import_inventory

    engine = make_engine(settings.resolved_database_url)
    try:
        if args.lights_action == "import":
            try:
                data = args.file.read_bytes()
            except OSError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            with write_session(engine) as session:
                result = import_inventory(session, data, args.file.name)
            print(
                f"{result.created} lights created, {result.updated} updated, "
                f"{result.groups_created} groups and {result.cabinets_created} cabinets created"
            )
            if args.credentials is not None:
                count = _write_credentials(settings, engine, args.credentials)
                print(f"{count} MQTT accounts written to {args.credentials}")
            else:
                print("MQTT accounts of the devices: eclor mqtt credentials (or files DIR)")
            return 0
        with write_session(engine) as session:
            scope, target = ("group", args.group) if args.group else ("light", args.light)
            if args.lights_action == "set":
                outcome = control.set_override(
                    session, scope, target, args.level, args.minutes, now=utcnow()
                )
                until = (
                    f" until {outcome.override.expires_at:%Y-%m-%d %H:%M} UTC"
                    if outcome.override.expires_at
                    else " until resumed"
                )
                print(
                    f"{scope} {target}: level {args.level}{until}; {outcome.commands} command(s) queued"
                )
            else:
                count = control.resume_program(session, scope, target, now=utcnow())
                print(f"{scope} {target}: back to program; {count} command(s) queued")
    except (LightingError, InventoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _configure_fleet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--period", type=float, default=60.0, help="light telemetry period, seconds"
    )
    parser.add_argument("--sensor-period", type=float, default=30.0, help="sensor period, seconds")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of defective lamps")
    parser.add_argument(
        "--drop-rate", type=float, default=0.0, help="share of lost acks and telemetry"
    )
    parser.add_argument(
        "--always-open", action="store_true", help="waste centres open around the clock"
    )
    parser.add_argument(
        "--full-speed", action="store_true", help="telemetry back to back (benchmarks)"
    )
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")


def _run_fleet(args: argparse.Namespace, settings: Settings) -> int:
    from app import logs
    from app.lighting.fleet import load_inventory, play

    logs.setup()
    inventory = load_inventory(make_engine(settings.resolved_database_url))
    if not inventory.light_count and not inventory.sensors:
        print(
            "no lights or sensors in the inventory: run `eclor demo` or `eclor lights import FILE`",
            file=sys.stderr,
        )
        return 2
    url = settings.mqtt_url or f"mqtt://127.0.0.1:{settings.mqtt_embedded_port}"
    print(
        f"simulating {inventory.light_count} lights and {len(inventory.sensors)} sensors on {url} "
        f"(prefix {settings.mqtt_prefix})"
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Signal handlers: not on Windows' loop, nor outside the main thread.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        if args.duration is not None:
            loop.call_later(args.duration, stop.set)
        await play(
            url,
            settings.mqtt_prefix,
            inventory,
            stop,
            light_period=args.period,
            sensor_period=args.sensor_period,
            seed=args.seed,
            fault_rate=args.fault_rate,
            drop_rate=args.drop_rate,
            always_open=args.always_open,
            full_speed=args.full_speed,
            key=settings.mqtt_key,
        )

    asyncio.run(main())
    return 0


def _write_credentials(settings: Settings, engine: Engine, path: Path) -> int:
    """Every MQTT account (relay, devices, gateways) with its password, as CSV; returns the count."""
    import csv

    from app.lighting.fleet import accounts_table
    from app.mqtt_auth import GATEWAY_PREFIX, RELAY_USERNAME, derived_password

    devices, gateways = accounts_table(engine)
    rows = [(RELAY_USERNAME, "relay")] + [(d, "device") for d in devices]
    rows += [(GATEWAY_PREFIX + name, "gateway") for name in sorted(gateways)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["username", "kind", "password"])
        for username, kind in rows:
            writer.writerow([username, kind, derived_password(settings.mqtt_key, username)])
    path.chmod(0o600)
    return len(rows)


def _configure_mqtt(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="mqtt_action", required=True)
    creds = actions.add_parser(
        "credentials", help="write every MQTT account and its password (CSV, for provisioning)"
    )
    creds.add_argument("file", type=Path)
    files = actions.add_parser(
        "files", help="write Mosquitto's password file and ACL file (the embedded broker's rules)"
    )
    files.add_argument("directory", type=Path)


def _run_mqtt(args: argparse.Namespace, settings: Settings) -> int:
    from app.lighting.fleet import accounts_table
    from app.mqtt_auth import (
        GATEWAY_PREFIX,
        RELAY_USERNAME,
        derived_password,
        mosquitto_acl,
        mosquitto_password_line,
    )

    engine = make_engine(settings.resolved_database_url)
    if args.mqtt_action == "credentials":
        count = _write_credentials(settings, engine, args.file)
        print(f"{count} MQTT accounts written to {args.file}")
        return 0
    devices, gateways = accounts_table(engine)
    users = [RELAY_USERNAME, *devices, *(GATEWAY_PREFIX + name for name in sorted(gateways))]
    args.directory.mkdir(parents=True, exist_ok=True)
    passwd, acl = args.directory / "passwd", args.directory / "acl"
    passwd.write_text(
        "".join(
            mosquitto_password_line(u, derived_password(settings.mqtt_key, u)) + "\n" for u in users
        ),
        encoding="utf-8",
    )
    passwd.chmod(0o600)
    acl.write_text(mosquitto_acl(settings.mqtt_prefix, gateways), encoding="utf-8")
    print(
        f"{len(users)} accounts: {passwd} and {acl} written; in mosquitto.conf:\n"
        f"  allow_anonymous false\n  password_file {passwd.resolve()}\n  acl_file {acl.resolve()}\n"
        "then reload Mosquitto (SIGHUP) after each inventory import"
    )
    return 0


COMMANDS = (
    Command(
        "lights",
        "public lighting: overrides, back to program, inventory import",
        _configure_lights,
        _run_lights,
    ),
    Command(
        "fleet",
        "simulate the inventory's lights and sensors over MQTT (demo, tests, benchmarks)",
        _configure_fleet,
        _run_fleet,
    ),
    Command(
        "mqtt",
        "MQTT accounts: credentials to provision, Mosquitto password and ACL files",
        _configure_mqtt,
        _run_mqtt,
    ),
)
