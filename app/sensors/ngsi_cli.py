"""``eclor ngsi-keys``: the partners' NGSI-LD API keys (create, list, revoke)."""

from __future__ import annotations

import argparse
from typing import Any

from sqlmodel import col, select

from app.db import engine_for, read_session, utcnow, write_session
from app.interfaces import Command
from app.models.ngsi import NgsiApiKey
from app.sensors import ngsi_subscriptions as subs


def _configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="a new key for a partner (printed once)")
    create.add_argument("name", help="who the key is for")
    sub.add_parser("list", help="the keys, without the keys themselves")
    revoke = sub.add_parser("revoke", help="revoke a key: its subscriptions stop")
    revoke.add_argument("id", type=int)


def _run(args: argparse.Namespace, settings: Any) -> int:
    engine = engine_for(settings)
    if args.action == "create":
        with write_session(engine) as session:
            row, key = subs.issue_key(session, args.name)
            print(f"key {row.id} for {row.name}: {key}")
        return 0
    if args.action == "list":
        with read_session(engine) as session:
            for row in session.scalars(select(NgsiApiKey).order_by(col(NgsiApiKey.id))):
                state = "revoked" if row.revoked_at else "active"
                print(f"{row.id}\t{row.prefix}…\t{state}\t{row.name}")
        return 0
    with write_session(engine) as session:
        found = session.get(NgsiApiKey, args.id)
        if found is None:
            print(f"no key {args.id}")
            return 1
        found.revoked_at = utcnow()
        session.add(found)
    print(f"key {args.id} revoked")
    return 0


COMMANDS = (Command("ngsi-keys", "NGSI-LD API keys of partners (subscriptions)", _configure, _run),)
