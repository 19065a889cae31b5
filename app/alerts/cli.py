"""``eclor vapid`` (the VAPID key pair) and ``eclor alert`` (publish an alert, same path as the staff form)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app import push as webpush
from app.alerts import cap, cap_alerts
from app.alerts.publish import cap_sender, clean_input, publish
from app.alerts.subscriptions import vapid_key_file, vapid_private_key
from app.alerts.topics import TOPICS, URGENCIES, AlertError
from app.db import write_session
from app.interfaces import Command
from app.models.push import CapIgnored


def configure_vapid(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Create the VAPID key pair once (under var/, unless ECLOR_VAPID_PRIVATE_KEY is set) "
        "and print the public key (the browsers' applicationServerKey)."
    )


def run_vapid(args: argparse.Namespace, settings: Any) -> int:
    existed = vapid_private_key(settings) is not None
    private = vapid_private_key(settings, create=True)
    try:
        public = webpush.application_server_key(private or "")
    except webpush.InvalidVapidConfig as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    where = (
        "ECLOR_VAPID_PRIVATE_KEY" if settings.vapid_private_key else str(vapid_key_file(settings))
    )
    print(public)
    print(f"private key {'kept' if existed else 'created'}: {where}", file=sys.stderr)
    try:
        webpush.validate_vapid_subject(settings.vapid_subject)
    except webpush.InvalidVapidConfig as exc:
        print(f"warning: {exc}", file=sys.stderr)
    return 0


def configure_alert(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Publish an alert (--topic and --title), or `eclor alert import FILE`: import a CAP 1.2 "
        "message as the staff import page does (exit 0 accepted, 2 refused with the reason)."
    )
    actions = parser.add_subparsers(dest="alert_action", required=False)
    imp = actions.add_parser("import", help="import a CAP 1.2 message (file, or - for stdin)")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument(
        "--topic",
        dest="import_topic",
        default=None,
        choices=sorted(TOPICS),
        help="topic to publish under (default: from the CAP category)",
    )
    parser.add_argument("--topic", choices=sorted(TOPICS))
    parser.add_argument("--title")
    parser.add_argument("--body", default="")
    parser.add_argument(
        "--commune",
        action="append",
        default=[],
        metavar="INSEE",
        help="a commune's INSEE code (repeat it); none: the whole territory",
    )
    parser.add_argument("--urgency", default="normal", choices=sorted(URGENCIES))
    parser.add_argument(
        "--ttl", type=int, default=None, metavar="S", help="validity in seconds (default 24 h)"
    )
    parser.add_argument(
        "--link", default="", help="https:// address or an Eclor path (/waste-centre)"
    )


def run_alert_import(args: argparse.Namespace, settings: Any) -> int:
    """``eclor alert import FILE``: the staff import page's path, from a file."""
    from app.db import make_engine

    try:
        if args.file == "-":
            document = sys.stdin.buffer.read(cap.MAX_BYTES + 1)
        else:
            with open(args.file, "rb") as handle:
                document = handle.read(cap.MAX_BYTES + 1)
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    engine = make_engine(settings.resolved_database_url)
    try:
        with write_session(engine) as session:
            outcome = cap_alerts.import_cap(session, document, topic=args.import_topic)
            if isinstance(outcome, CapIgnored):
                said = f"message {outcome.identifier} recorded, not published: {outcome.reason}"
            else:
                said = (
                    f"alert {outcome.id} published ({outcome.msg_type}, {outcome.area_desc or '-'}); "
                    "the worker sends it"
                )
    except cap.CapError as exc:
        print(f"refused: invalid CAP — {exc.path}: {exc.message}", file=sys.stderr)
        return 2
    except AlertError as exc:
        print(f"refused: {exc.message}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(said)
    return 0


def run_alert(args: argparse.Namespace, settings: Any) -> int:
    from app.db import make_engine

    if getattr(args, "alert_action", None) == "import":
        return run_alert_import(args, settings)
    if not args.topic or not args.title:
        print("error: --topic and --title are required to publish an alert", file=sys.stderr)
        return 2
    engine = make_engine(settings.resolved_database_url)
    try:
        with write_session(engine) as session:
            data = clean_input(
                session,
                title=args.title,
                body=args.body,
                topic=args.topic,
                communes=args.commune,
                urgency=args.urgency,
                link=args.link,
                ttl_s=args.ttl,
            )
            alert = publish(session, data, source="cli", sender=cap_sender(settings))
            where = alert.area_desc
    except AlertError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"alert {alert.id} published ({where}); the worker sends it")
    return 0


COMMANDS = (
    Command(
        "vapid",
        "create the VAPID key pair if missing and print the public key",
        configure_vapid,
        run_vapid,
    ),
    Command(
        "alert",
        "publish an alert, or import a CAP message (same paths as the staff pages)",
        configure_alert,
        run_alert,
    ),
)
