"""``eclor carpool operator add NAME`` (prints the operator's key once), ``... revoke NAME`` and
``... callback NAME URL [--token-stdin]`` / ``... callback NAME --off`` (where the operator hears of
booking changes)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.carpool.operators import add_operator, revoke_operator, set_callback
from app.carpool.trips import CarpoolError
from app.db import make_engine, write_session
from app.interfaces import Command


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Carpool operators: the platforms that book and message through /api/carpool "
        "(the standard-covoiturage API)."
    )
    what = parser.add_subparsers(dest="carpool_what", required=True)
    operator = what.add_parser("operator", help="operators' keys")
    action = operator.add_subparsers(dest="carpool_action", required=True)
    add = action.add_parser("add", help="add an operator and print its key (shown once)")
    add.add_argument("name")
    revoke = action.add_parser("revoke", help="revoke an operator's key")
    revoke.add_argument("name")
    callback = action.add_parser(
        "callback",
        help="where the operator receives booking changes: PATCH URL/bookings/{id}?status=...",
    )
    callback.add_argument("name")
    callback.add_argument("url", nargs="?", default="", help="the operator's API base URL")
    callback.add_argument(
        "--token-stdin",
        action="store_true",
        help="read the operator's token for Eclor (sent as 'Authorization: Bearer') from stdin",
    )
    callback.add_argument("--off", action="store_true", help="stop sending booking changes")


def run(args: argparse.Namespace, settings: Any) -> int:
    engine = make_engine(settings.resolved_database_url)
    try:
        with write_session(engine) as session:
            if args.carpool_action == "add":
                try:
                    operator, key = add_operator(session, args.name)
                except CarpoolError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
                print(key)
                print(
                    f"operator {operator.name!r} added; send the key as "
                    "'Authorization: Bearer KEY' to /api/carpool",
                    file=sys.stderr,
                )
                return 0
            if args.carpool_action == "callback":
                return _callback(session, args, settings)
            if not revoke_operator(session, args.name):
                print(f"error: no active operator named {args.name!r}", file=sys.stderr)
                return 2
            print(f"operator {args.name!r} revoked", file=sys.stderr)
            return 0
    finally:
        engine.dispose()


def _callback(session: Any, args: argparse.Namespace, settings: Any) -> int:
    if bool(args.url) == bool(args.off):
        print("error: give the URL, or --off", file=sys.stderr)
        return 2
    token = sys.stdin.readline().strip() if args.token_stdin and not args.off else ""
    try:
        set_callback(
            session,
            args.name,
            "" if args.off else args.url,
            token,
            allow_loopback=settings.outbound_allows_loopback,
        )
    except CarpoolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.off:
        print(f"operator {args.name!r}: booking changes no longer sent", file=sys.stderr)
    else:
        print(
            f"operator {args.name!r}: booking changes sent as PATCH {args.url.rstrip('/')}"
            "/bookings/{bookingId}?status=...",
            file=sys.stderr,
        )
    return 0


COMMANDS = (
    Command("carpool", "carpool operators (standard-covoiturage API keys)", configure, run),
)
