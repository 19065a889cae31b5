"""``eclor territory``: create a territory from files, export its set-up, import it elsewhere.

    eclor territory create SETTINGS.json COMMUNES.geojson
    eclor territory export SLUG > bundle.zip
    eclor territory import bundle.zip

A bundle carries the territory's set-up rows and the rows of the datasets its staff uploaded
(written to and read from the zip as a stream; an absurdly large one is refused).

A file that cannot be used is refused with a French message and exit code 2; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.db import engine_for, read_session, write_session
from app.interfaces import Command
from app.settings import Settings
from app.territory_setup import SetupError, create, import_bundle, write_bundle


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    p = actions.add_parser("create", help="a new territory from its settings and its communes")
    p.add_argument("settings", type=Path, help="SETTINGS.json: slug, name, hosts, timezone, …")
    p.add_argument(
        "communes", type=Path, help="COMMUNES.geojson: polygons with code, name, country"
    )
    p = actions.add_parser("export", help="a territory's set-up as a zip, on standard output")
    p.add_argument("slug")
    p = actions.add_parser("import", help="load a territory exported by `eclor territory export`")
    p.add_argument("bundle", type=Path)


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SetupError(f"Impossible de lire {path} : {exc.strerror}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SetupError(f"{path} n’est pas un fichier JSON valide ({exc}).") from None


def _run(args: argparse.Namespace, settings: Settings) -> int:
    engine = engine_for(settings)
    try:
        if args.action == "create":
            territory_settings, communes = _json(args.settings), _json(args.communes)
            with write_session(engine) as session:
                row = create(session, territory_settings, communes)
                print(f"territoire « {row.slug} » créé avec {len(communes['features'])} commune(s)")
        elif args.action == "export":
            with read_session(engine) as session:
                write_bundle(session, args.slug, sys.stdout.buffer, settings.var_dir)
            sys.stdout.flush()
        else:
            with write_session(engine) as session:
                row = import_bundle(session, args.bundle, settings.var_dir)
                print(f"territoire « {row.slug} » importé")
    except SetupError as exc:
        print(f"erreur : {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


COMMAND = Command(
    "territory",
    "territories: create one from files, export its set-up, import it",
    _configure,
    _run,
)
