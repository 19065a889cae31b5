"""``eclor renovation rules load FILE``: national rules and income ceilings of a year, from a
versioned JSON file (the figures change without code)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.db import make_engine, write_session
from app.interfaces import Command
from app.renovation import rules
from app.settings import Settings


def _configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="renovation_action", required=True)
    rules_parser = sub.add_parser("rules", help="aid rules")
    rules_sub = rules_parser.add_subparsers(dest="rules_action", required=True)
    load = rules_sub.add_parser(
        "load", help="load a rules file (replaces that year's national rules)"
    )
    load.add_argument("file", type=Path, nargs="?", default=rules.NATIONAL_FILE)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.resolved_database_url)
    try:
        with write_session(engine) as session:
            year, count = rules.load_file(session, args.file)
    except rules.RuleError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"{count} national rules of {year} loaded from {args.file}")
    return 0


COMMANDS = (
    Command("renovation", "renovation guide: load the national aid rules", _configure, _run),
)
