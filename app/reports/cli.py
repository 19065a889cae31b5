"""``eclor addresses load FILE``: the territory's addresses from a BAN CSV extract."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.db import write_session
from app.interfaces import Command
from app.reports import ban


def configure_addresses(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Load the national address base (BAN) for the territory from its CSV export "
        "(adresses-57.csv…): Open311 places reports by address_id and address_string from it, "
        "with no network at request time. Communes outside the territory are left out; the "
        "communes the file holds replace their addresses."
    )
    actions = parser.add_subparsers(dest="addresses_action", required=True)
    load = actions.add_parser("load", help="load a BAN CSV extract (';'-separated)")
    load.add_argument("file", metavar="FILE")


def run_addresses(args: argparse.Namespace, settings: Any) -> int:
    from app.db import make_engine

    try:
        with open(args.file, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    engine = make_engine(settings.resolved_database_url)
    try:
        with write_session(engine) as session:
            count, communes = ban.load(session, data)
    except (ban.BanFileError, UnicodeDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if not count:
        print("no address of the territory's communes in this file", file=sys.stderr)
        return 2
    print(f"{count} addresses loaded for {len(communes)} communes ({', '.join(communes)})")
    return 0


COMMANDS = (
    Command(
        "addresses",
        "load the territory's addresses from a BAN CSV extract",
        configure_addresses,
        run_addresses,
    ),
)
