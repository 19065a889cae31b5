"""``eclor meters import FILE``: a CSV of public buildings' meter readings, through the same ingestion as MQTT."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.db import engine_for, utcnow, write_session
from app.interfaces import Command
from app.sensors import buildings


def _configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    load = sub.add_parser("import", help="readings as CSV: meter,ts,index[,flow or power]")
    load.add_argument("file", type=Path)


def _run(args: argparse.Namespace, settings: Any) -> int:
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.file}: {exc}")
        return 2
    try:
        with write_session(engine_for(settings)) as session:
            kept = buildings.import_csv(session, text, utcnow())
    except buildings.MeterImportError as exc:
        print(str(exc))
        return 2
    print(f"{kept} readings imported")
    return 0


COMMANDS = (Command("meters", "public buildings' meters: import readings (CSV)", _configure, _run),)
