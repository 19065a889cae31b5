"""``eclor talq``: TALQ gateways' keys, TALQ group addresses, and the export of programs.

- ``eclor talq gateway add NAME``: a gateway address and key (the key is printed
  once; only its hash is kept); ``... revoke NAME``;
- ``eclor talq group GROUP``: a TALQ group address for a group whose lights all
  sit behind one gateway (one override command then reaches the whole group);
- ``eclor talq export``: Eclor's programs and calendars as TALQ control programs
  and calendars (JSON on stdout); ``--push`` sends them to the gateway
  (``ECLOR_TALQ_GATEWAY_URL``) with the groups and assigns each group its
  calendar, so the gateway keeps the schedule while the link to Eclor is down.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from app.db import make_engine, read_session, write_session
from app.interfaces import Command
from app.lighting import talq, talq_export, talq_gateways
from app.lighting.programs import LightingError
from app.models.lighting import Streetlight
from app.models.lighting_talq import TalqDevice, TalqGateway, TalqGroup


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = "TALQ gateways (lighting): keys, groups, programs for the gateway."
    what = parser.add_subparsers(dest="talq_what", required=True)
    gateway = what.add_parser("gateway", help="gateways' addresses and keys")
    action = gateway.add_subparsers(dest="talq_action", required=True)
    add = action.add_parser("add", help="add a gateway and print its key (shown once)")
    add.add_argument("name")
    revoke = action.add_parser("revoke", help="revoke a gateway's key")
    revoke.add_argument("name")
    group = what.add_parser("group", help="give a lighting group a TALQ group address")
    group.add_argument("group_id")
    export = what.add_parser("export", help="programs and calendars as TALQ objects")
    export.add_argument("--push", action="store_true", help="send them to the gateway")


def assignment_targets(engine: Engine, group_id: str) -> list[dict[str, str]]:
    """Where a group's calendar is assigned: its TALQ group, else its lights' actuators."""
    with read_session(engine) as session:
        held = session.get(TalqGroup, group_id)
        if held is not None:
            return [{"resource": "groups", "address": held.group_address}]
        rows = session.execute(
            select(col(TalqDevice.device_address), col(TalqDevice.actuator_function))
            .join(Streetlight, col(Streetlight.id) == col(TalqDevice.light_id))
            .where(col(Streetlight.group_id) == group_id)
            .order_by(col(TalqDevice.device_address))
        ).all()
    return [talq.device_target(address, fn).reference() for address, fn in rows]


def push(settings: Any, engine: Engine, found: talq_export.Export) -> list[str]:
    """Send the export to the gateway; returns what went wrong (empty: all taken)."""
    from app.lighting.talq_backend import request, talq_link

    link = talq_link(settings)
    problems: list[str] = []

    def send(path: str, body: Any) -> None:
        answer = request(link, "POST", path, body)
        if answer.status_code not in (200, 201, 202):
            problems.append(f"POST {path}: {answer.status_code} {answer.text[:200]}")

    with read_session(engine) as session:
        cms = settings.talq_cms_address_resolved
        held = [
            {**g, "ownerCMS": cms}
            for gateway in session.scalars(select(TalqGateway)).all()
            for g in talq_gateways.groups_of(session, gateway)
        ]
    if held:
        send("/groups", held)
    if found.programs:
        send("/control-programs", found.programs)
    if found.calendars:
        send("/calendars", found.calendars)
    for group_id, address in sorted(found.assignments.items()):
        targets = assignment_targets(engine, group_id)
        if not targets:
            print(f"group {group_id!r}: no TALQ device, calendar not assigned", file=sys.stderr)
        else:
            send(
                "/assign-commands",
                {
                    "addresses": targets,
                    "entity": {"resource": "calendars", "address": address},
                    "cmsRefId": f"eclor-group-{group_id}",
                },
            )
    return problems


def run(args: argparse.Namespace, settings: Any) -> int:
    engine = make_engine(settings.resolved_database_url)
    try:
        if args.talq_what == "gateway":
            with write_session(engine) as session:
                if args.talq_action == "add":
                    try:
                        gateway, key = talq_gateways.add_gateway(session, args.name)
                    except LightingError as exc:
                        print(f"error: {exc.message}", file=sys.stderr)
                        return 2
                    print(key)
                    print(
                        f"gateway {gateway.name!r} added: TALQ address {gateway.address} "
                        "(its clientAddress); send the key as 'Authorization: Bearer KEY' "
                        "to /api/talq",
                        file=sys.stderr,
                    )
                    return 0
                if not talq_gateways.revoke_gateway(session, args.name):
                    print(f"error: no active gateway named {args.name!r}", file=sys.stderr)
                    return 2
                print(f"gateway {args.name!r} revoked", file=sys.stderr)
                return 0
        if args.talq_what == "group":
            try:
                with write_session(engine) as session:
                    row = talq_gateways.map_group(session, args.group_id)
                    print(row.group_address)
            except LightingError as exc:
                print(f"error: {exc.message}", file=sys.stderr)
                return 2
            return 0
        with read_session(engine) as session:
            found = talq_export.export(session, settings.talq_cms_address_resolved)
        if not args.push:
            print(talq_export.as_json(found))
            return 0
        if not settings.talq_gateway_url:
            print("error: ECLOR_TALQ_GATEWAY_URL is not set", file=sys.stderr)
            return 2
        problems = push(settings, engine, found)
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        print(
            f"{len(found.programs)} programs, {len(found.calendars)} calendars, "
            f"{len(found.assignments)} groups sent",
            file=sys.stderr,
        )
        return 1 if problems else 0
    finally:
        engine.dispose()


COMMANDS = (
    Command("talq", "TALQ gateways: keys, groups, programs for the gateway", configure, run),
)
