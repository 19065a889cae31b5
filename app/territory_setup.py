"""A territory's set-up as files: made from settings and a commune map, exported, imported.

- :func:`create` builds a territory from ``SETTINGS.json`` (``slug``, ``name``, ``hosts``,
  ``timezone``, ``languages``, ``colours``, and optionally the other columns of
  ``territories``) and ``COMMUNES.geojson`` (a FeatureCollection of polygons with the
  properties ``code``, ``name``, ``country``, optionally ``postcode`` and ``approximate``);
  the settings' optional ``bodies`` list declares the bodies nested in it (app.bodies.check);
- :func:`export_bundle` writes its set-up as a zip: ``territory.json`` (the territory's
  row), ``communes.json`` (its communes with their outlines) and one file per set-up table
  that belongs to a territory (:data:`SETUP_TABLES`: carpool meeting points, its categories of
  report (archived ones too), the lighting
  programs in use and calendars, the maintenance teams (not their members) and rules, the descriptions of the datasets its staff
  added and its publication choices, its solar production targets and prices per year), and
  ``bodies.json`` (its nested bodies, by name); no resident's
  data;
- :func:`import_bundle` loads such a zip into another install.

Everything is checked before anything is written: a bad file is refused with a French
message (:class:`SetupError`) and the database is left as it was.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from zoneinfo import available_timezones

from sqlmodel import Session, SQLModel, col, select

from app import bodies, territory_files
from app.models.carpool import CarpoolPlace
from app.models.lighting import LightCalendar, LightProgram
from app.models.maintenance import DEFAULT_TEAMS, MaintenanceRule, MaintenanceTeam
from app.models.opendata import OpenDataSetting, OpenDataUpload
from app.models.sensors import SolarTarget
from app.models.reports import (
    DEFAULT_REJECT_REASONS,
    DEFAULT_REPORT_CATEGORIES,
    REPORT_CATEGORIES,
    RejectReason,
    ReportCategory,
    ResponseTemplate,
)
from app.models.territory import Commune, Territory
from app.territories import changed, commune_key
from app.territory_checks import (
    category_problem,
    choice_problem,
    dataset_problem,
    json_object,
    rule_problem,
    solar_problem,
    team_problem,
)

BUNDLE_VERSION = 1
LANGUAGES = ("fr", "en", "de", "lb")
COUNTRIES = {"FR": re.compile(r"(\d{5}|2[AB]\d{3})"), "LU": re.compile(r"LU\d{4}")}
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")
HOST = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
)
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")


# The tables of set-up rows that belong to a territory (``territory_id``), carried by a bundle.
@dataclass(frozen=True)
class SetupTable:
    """A table of set-up rows that belong to a territory, as a bundle carries them."""

    model: type[SQLModel]
    columns: tuple[str, ...] | None  # the columns carried; None: all but the ids
    key: str | None  # the column that names a row uniquely (on the install, or within its
    # territory); None: none does (the rows are the territory's own, several may share a name)
    label: str  # how a conflict names it (French)
    archived: str | None = None  # a column set on rows no longer in use: those stay behind
    # The key is unique on the whole install (a conflict with another territory's row refuses the
    # bundle); False: only within a territory, so a bundle's rows never clash with another's.
    install_wide: bool = True
    unique: bool = True  # False: rows may share the key (nothing is refused for it)
    # what is wrong with a row (French), given the bundle's commune keys; None: nothing
    check: Callable[[dict[str, Any], set[str]], str | None] | None = None
    optional: tuple[str, ...] = ()  # carried columns a bundle of an earlier Eclor may lack


SETUP_TABLES: tuple[SetupTable, ...] = (
    SetupTable(CarpoolPlace, None, "slug", "Le lieu de covoiturage"),
    # Its categories of report, archived ones included (its reports and bodies name them); a new
    # territory starts with the built-in ones.
    SetupTable(
        ReportCategory,
        ("code", "label", "hint", "position", "active"),
        "code",
        "La catégorie de signalement",
        install_wide=False,
        check=category_problem,
    ),
    # The reports' reject reasons and response templates its staff keep (a new territory without
    # reasons gets the default list: its staff must be able to reject a report from the start).
    SetupTable(RejectReason, ("label", "active"), "label", "Le motif de rejet", None, False),
    SetupTable(
        ResponseTemplate,
        ("title", "body", "active"),
        "title",
        "La réponse type",
        None,
        False,
        False,
    ),
    # The lighting programs and calendars the territory's staff wrote (not the groups using them:
    # those are its inventory, not its set-up).
    SetupTable(
        LightCalendar, ("name", "definition"), "name", "Le calendrier d’éclairage", None, False
    ),
    SetupTable(
        LightProgram,
        ("name", "definition"),
        "name",
        "Le programme d’éclairage",
        "archived_at",
        False,
    ),
    # Its maintenance teams (a code is unique within the territory; not their members, who are the
    # territory's staff), and the rules its staff wrote: what they watch, what they raise and the team
    # that handles their alarms (not who wrote them).
    SetupTable(
        MaintenanceTeam,
        ("code", "name", "active"),
        "code",
        "L’équipe de maintenance",
        install_wide=False,
        check=team_problem,
    ),
    SetupTable(
        MaintenanceRule,
        (
            "name",
            "kind",
            "layer",
            "subject",
            "measure",
            "op",
            "threshold",
            "category",
            "count",
            "radius_m",
            "days",
            "duration_s",
            "severity",
            "commune_insee",
            "quiet_s",
            "prepare_alert",
            "alert_title",
            "active",
            "team",
        ),
        None,
        "La règle de maintenance",
        check=rule_problem,
        optional=("team",),
    ),
    # Its open data: the descriptions of the datasets its staff added (title, description, theme,
    # keywords, frequency, Table Schema; not their rows, which stay on the install they were
    # uploaded to) and what it chose to publish.
    SetupTable(
        OpenDataUpload,
        ("slug", "title", "description", "theme", "keywords", "frequency", "table_schema"),
        "slug",
        "Le jeu de données",
        install_wide=False,
        check=dataset_problem,
    ),
    SetupTable(
        OpenDataSetting,
        ("slug", "published"),
        "slug",
        "Le choix de publication",
        install_wide=False,
        check=choice_problem,
    ),
    # Its solar production target and the prices of its kWh, per year (not who set them).
    SetupTable(
        SolarTarget,
        ("year", "production_mwh", "capacity_kw", "purchase_eur_kwh", "sale_eur_kwh"),
        "year",
        "L’objectif solaire de l’année",
        install_wide=False,
        check=solar_problem,
    ),
)
# The territory's text columns a settings file may give, with their longest length.
OPTIONAL_TEXT = {
    "short_name": 60,
    "publisher": 200,
    "contact_email": 254,
    "legal_text": 5000,
    "mail_sender": 254,
    "opendata_licence": 300,
    "opendata_licence_name": 200,
    "opendata_publisher": 200,
    "tile_url": 300,
    "tile_attribution": 200,
}
# Map tiles: an https XYZ template (Leaflet's), with its three coordinates.
TILE_URL = re.compile(r"https://[a-z0-9{}.-]+(:\d+)?/[^\s\"'<>]*")
# An open-data licence: the address of its text (the catalogue's dct:license).
LICENCE_URL = re.compile(r"https?://[a-zA-Z0-9.-]+(:\d+)?(/[^\s\"'<>{}|\\^`]*)?")


class SetupError(ValueError):
    """A settings file, commune map or bundle that cannot be used; the message says why, in French."""


def _text(data: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise SetupError(f"« {key} » doit être un texte.")
    value = value.strip()
    if required and not value:
        raise SetupError(f"« {key} » est obligatoire.")
    if len(value) > limit:
        raise SetupError(f"« {key} » dépasse {limit} caractères.")
    return value


def check_settings(data: Any) -> dict[str, Any]:
    """The ``territories`` columns of a settings file (without the centre), checked."""
    if not isinstance(data, dict):
        raise SetupError("Le fichier de réglages doit être un objet JSON.")
    out: dict[str, Any] = {}
    out["slug"] = _text(data, "slug", 64, required=True)
    if not SLUG.fullmatch(out["slug"]):
        raise SetupError(
            "« slug » : lettres minuscules, chiffres et tirets (2 à 64), par exemple « esch »."
        )
    out["name"] = _text(data, "name", 200, required=True)
    hosts = data.get("hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise SetupError("« hosts » doit être une liste de noms d’hôte.")
    out["hosts"] = [h.strip().lower() for h in hosts]
    for host in out["hosts"]:
        if not HOST.fullmatch(host):
            raise SetupError(f"« {host} » n’est pas un nom d’hôte (sans port ni chemin).")
    if len(set(out["hosts"])) != len(out["hosts"]):
        raise SetupError("« hosts » donne deux fois le même nom d’hôte.")
    out["timezone"] = _text(data, "timezone", 64) or "Europe/Paris"
    if out["timezone"] not in available_timezones():
        raise SetupError(
            f"Fuseau horaire inconnu : « {out['timezone']} » (par exemple Europe/Paris)."
        )
    languages = data.get("languages", ["fr", "en"])
    if (
        not isinstance(languages, list)
        or not languages
        or any(lang not in LANGUAGES for lang in languages)
    ):
        raise SetupError("« languages » : une liste non vide parmi " + ", ".join(LANGUAGES) + ".")
    out["languages"] = list(dict.fromkeys(languages))
    colours = data.get("colours", {})
    if not isinstance(colours, dict):
        raise SetupError('« colours » doit être un objet { "primary": "#rrggbb", "accent": … }.')
    for key in ("primary", "accent"):
        if key in colours:
            if not isinstance(colours[key], str) or not COLOUR.fullmatch(colours[key]):
                raise SetupError(f"« colours.{key} » doit être une couleur #rrggbb.")
            out[f"colour_{key}"] = colours[key].lower()
    for key, limit in OPTIONAL_TEXT.items():
        if key in data:
            out[key] = _text(data, key, limit)
    out.update(_smtp(data.get("smtp", {})))
    tiles = out.get("tile_url", "")
    if tiles and (
        not TILE_URL.fullmatch(tiles) or not all(k in tiles for k in ("{z}", "{x}", "{y}"))
    ):
        raise SetupError(
            "« tile_url » : une adresse https de tuiles avec {z}, {x} et {y}, par exemple "
            "https://tiles.example.lu/{z}/{x}/{y}.png."
        )
    if tiles and not out.get("tile_attribution"):
        raise SetupError(
            "« tile_attribution » est obligatoire avec « tile_url » (licence des tuiles)."
        )
    if out.get("contact_email") and not EMAIL.fullmatch(out["contact_email"]):
        raise SetupError("« contact_email » n’est pas une adresse e-mail.")
    licence = out.get("opendata_licence", "")
    if licence and not LICENCE_URL.fullmatch(licence):
        raise SetupError(
            "« opendata_licence » : l’adresse (http ou https) du texte de la licence, par exemple "
            "https://creativecommons.org/licenses/by/4.0/."
        )
    return out


SMTP_KEYS = {"host", "port", "user", "password_env", "starttls"}
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")


def _smtp(data: Any) -> dict[str, Any]:
    """The settings' ``smtp`` object (the territory's own mail server) as its columns."""
    if not isinstance(data, dict) or not set(data) <= SMTP_KEYS:
        raise SetupError(
            "« smtp » doit être un objet avec host, port, user, password_env et starttls."
        )
    if not data:
        return {}
    host = data.get("host", "")
    if not isinstance(host, str) or not HOST.fullmatch(host.strip().lower()):
        raise SetupError("« smtp.host » doit être un nom d’hôte (sans port ni chemin).")
    port = data.get("port", 587)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise SetupError("« smtp.port » doit être un numéro de port (1 à 65535).")
    user = data.get("user", "")
    if not isinstance(user, str) or len(user) > 254:
        raise SetupError("« smtp.user » doit être un texte (254 caractères au plus).")
    env = data.get("password_env", "")
    if not isinstance(env, str) or (env and not ENV_NAME.fullmatch(env)):
        raise SetupError(
            "« smtp.password_env » : le nom de la variable d’environnement qui tient le mot de "
            "passe (majuscules, chiffres, _), jamais le mot de passe lui-même."
        )
    starttls = data.get("starttls", True)
    if not isinstance(starttls, bool):
        raise SetupError("« smtp.starttls » doit valoir true ou false.")
    return {
        "smtp_host": host.strip().lower(),
        "smtp_port": port,
        "smtp_user": user.strip(),
        "smtp_password_env": env,
        "smtp_starttls": starttls,
    }


def _ring(geometry: Any, where: str) -> list[tuple[float, float]]:
    """The outer ring of a polygon (a multipolygon of one polygon), as (lon, lat) points."""
    if not isinstance(geometry, dict):
        raise SetupError(f"{where} : pas de géométrie.")
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "MultiPolygon" and isinstance(coordinates, list) and len(coordinates) == 1:
        kind, coordinates = "Polygon", coordinates[0]
    if kind != "Polygon" or not isinstance(coordinates, list) or not coordinates:
        raise SetupError(f"{where} : la géométrie doit être un polygone (Polygon).")
    ring = coordinates[0]
    try:
        points = [(float(p[0]), float(p[1])) for p in ring]
    except (TypeError, ValueError, IndexError):
        raise SetupError(f"{where} : des coordonnées ne sont pas des nombres [lon, lat].") from None
    if len(points) < 4 or points[0] != points[-1]:
        raise SetupError(f"{where} : le contour doit être fermé et avoir au moins trois sommets.")
    if any(not (-180 <= lon <= 180 and -90 <= lat <= 90) for lon, lat in points):
        raise SetupError(f"{where} : des coordonnées sont hors du globe (l’ordre est [lon, lat]).")
    return points


def check_communes(data: Any) -> list[dict[str, Any]]:
    """The ``communes`` rows of a FeatureCollection (without ``territory_id``), checked."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise SetupError("Le fichier des communes doit être une FeatureCollection GeoJSON.")
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise SetupError("Le fichier des communes ne contient aucune commune.")
    rows: list[dict[str, Any]] = []
    for number, feature in enumerate(features, start=1):
        where = f"Commune n° {number}"
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            raise SetupError(f"{where} : pas de propriétés (code, name, country).")
        country = props.get("country")
        if country not in COUNTRIES:
            raise SetupError(f"{where} : « country » doit être FR ou LU.")
        code = str(props.get("code", "")).strip().upper()
        if not COUNTRIES[country].fullmatch(code):
            expected = "cinq caractères INSEE" if country == "FR" else "LU suivi de quatre chiffres"
            raise SetupError(f"{where} : code « {code} » invalide ({expected}).")
        name = props.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 120:
            raise SetupError(f"{where} ({code}) : « name » manque ou dépasse 120 caractères.")
        postcode = str(props.get("postcode", "")).strip().removeprefix("L-")
        if len(postcode) > 5:
            raise SetupError(f"{where} ({code}) : code postal trop long.")
        points = _ring(feature.get("geometry"), f"{where} ({code})")
        corners = points[:-1]
        rows.append(
            {
                "insee": commune_key(country, code),
                "code": code,
                "country": country,
                "name": name.strip(),
                "postcode": postcode,
                "lat": round(sum(p[1] for p in corners) / len(corners), 5),
                "lon": round(sum(p[0] for p in corners) / len(corners), 5),
                "outline": " ".join(f"{lat:.4f},{lon:.4f}" for lon, lat in points),
                "outline_approximate": bool(props.get("approximate", False)),
            }
        )
    codes = [r["code"] for r in rows]
    if len(set(codes)) != len(codes):
        raise SetupError("Le fichier des communes donne deux fois le même code.")
    return rows


def _conflicts(session: Session, territory: dict[str, Any], communes: list[dict[str, Any]]) -> None:
    """Refuse what this install already has: the slug, a host, a commune."""
    if session.scalars(select(Territory).where(col(Territory.slug) == territory["slug"])).first():
        raise SetupError(
            f"Le territoire « {territory['slug']} » existe déjà sur cette installation."
        )
    taken = {host for row in session.scalars(select(Territory)) for host in row.hosts or ()}
    for host in territory.get("hosts", ()):
        if host in taken:
            raise SetupError(f"Le nom d’hôte « {host} » sert déjà un autre territoire.")
    keys = [c["insee"] for c in communes]
    codes = [c["code"] for c in communes]
    existing = session.scalars(
        select(Commune).where(col(Commune.insee).in_(keys) | col(Commune.code).in_(codes))
    ).first()
    if existing is not None:
        raise SetupError(
            f"La commune {existing.code} ({existing.name}) appartient déjà à un territoire de "
            "cette installation."
        )


def _write(
    session: Session,
    territory: dict[str, Any],
    communes: list[dict[str, Any]],
    setup: dict[str, list[dict[str, Any]]] | None = None,
    declared_bodies: list[dict[str, Any]] | None = None,
) -> Territory:
    row = Territory(**territory)
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add_all(Commune(territory_id=row.id, **c) for c in communes)
    session.flush()  # before the set-up rows that name them (a rule's commune)
    defaults: dict[str, list[dict[str, Any]]] = {
        "report_reject_reasons": [{"label": r} for r in DEFAULT_REJECT_REASONS],
        "report_categories": [
            {"code": code, "label": label, "hint": hint, "position": position}
            for position, (code, label, hint) in enumerate(DEFAULT_REPORT_CATEGORIES)
        ],
        "maintenance_teams": [{"code": c, "name": n} for c, n in DEFAULT_TEAMS],
    }
    setup = defaults | {k: v for k, v in (setup or {}).items() if v}
    for table in SETUP_TABLES:
        session.add_all(
            table.model(**{**r, "territory_id": row.id})
            for r in setup.get(str(table.model.__tablename__), [])
        )
    session.flush()
    bodies.write(session, row.id, declared_bodies or [])
    changed()
    return row


def create(session: Session, settings: Any, communes: Any) -> Territory:
    """A new territory from a settings object and a commune FeatureCollection (in the caller's
    transaction); its centre is the mean of its communes' centres."""
    territory = check_settings(settings)
    rows = check_communes(communes)
    territory.setdefault("lat", round(sum(r["lat"] for r in rows) / len(rows), 5))
    territory.setdefault("lon", round(sum(r["lon"] for r in rows) / len(rows), 5))
    declared = _bodies(settings.get("bodies") if isinstance(settings, dict) else None, rows)
    _conflicts(session, territory, rows)
    return _write(session, territory, rows, declared_bodies=declared)


def _bodies(
    declared: Any, communes: list[dict[str, Any]], categories: Any = REPORT_CATEGORIES
) -> list[dict[str, Any]]:
    """The settings' ``bodies`` checked against the territory's communes (named by their official
    code or by their key) and its report categories (a new territory's: the built-in ones)."""
    keys = {c["insee"] for c in communes}
    by_code = {str(c["code"]): c["insee"] for c in communes}
    try:
        return bodies.check(
            declared,
            keys,
            set(categories),
            key=lambda code: code if code in keys else by_code.get(code, code),
        )
    except bodies.BodyError as exc:
        raise SetupError(str(exc)) from None


def _plain(row: SQLModel, *skip: str) -> dict[str, Any]:
    return {k: v for k, v in row.model_dump().items() if k not in skip}


def _carried(table: SetupTable, row: SQLModel) -> dict[str, Any]:
    if table.columns is None:
        return _plain(row, "id", "territory_id")
    return {column: getattr(row, column) for column in table.columns}


def export_bundle(session: Session, slug: str, var_dir: Path | None = None) -> bytes:
    """The territory's set-up as a zip (see the module's docstring), in memory."""
    buffer = io.BytesIO()
    write_bundle(session, slug, buffer, var_dir)
    return buffer.getvalue()


def write_bundle(session: Session, slug: str, out: IO[bytes], var_dir: Path | None = None) -> None:
    """The territory's set-up as a zip written to ``out`` as it is made; with ``var_dir``, the
    files the domains carry (``app.territory_files``: the rows of the datasets its staff uploaded),
    streamed from disk."""
    territory = session.scalars(select(Territory).where(col(Territory.slug) == slug)).first()
    if territory is None:
        raise SetupError(f"Aucun territoire « {slug} » sur cette installation.")
    communes = session.scalars(
        select(Commune)
        .where(col(Commune.territory_id) == territory.id)
        .order_by(col(Commune.insee))
    ).all()
    assert territory.id is not None
    files: list[tuple[str, Path]] = []
    if var_dir is not None:  # checked before a byte is written: a refused export writes nothing
        try:
            files = territory_files.carried(session, territory.id, var_dir)
        except ValueError as exc:
            raise SetupError(str(exc)) from None
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:

        def put(name: str, value: Any) -> None:
            bundle.writestr(name, json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True))

        put("eclor-territory.json", {"version": BUNDLE_VERSION, "slug": slug})
        put("territory.json", _plain(territory, "id"))
        put("communes.json", [_plain(c, "territory_id") for c in communes])
        for table in SETUP_TABLES:
            model: Any = table.model
            stmt = select(model).where(col(model.territory_id) == territory.id)
            if table.archived:
                stmt = stmt.where(col(getattr(model, table.archived)).is_(None))
            order = getattr(model, "id", None) or getattr(model, str(table.key))
            rows = session.scalars(stmt.order_by(col(order))).all()
            put(f"{model.__tablename__}.json", [_carried(table, r) for r in rows])
        assert territory.id is not None
        put("bodies.json", bodies.declared(session, territory.id))
        territory_files.put(bundle, files)


def _read_bundle(bundle: zipfile.ZipFile) -> dict[str, Any]:
    try:
        territory_files.sizes(bundle)
        names = set(bundle.namelist())
        wanted = {"eclor-territory.json", "territory.json", "communes.json"}
        if not wanted <= names:
            raise SetupError(
                "Ce fichier n’est pas un export de territoire d’Eclor (eclor territory export)."
            )
        return {
            name.removesuffix(".json"): json.loads(bundle.read(name))
            for name in names
            if name.endswith(".json") and "/" not in name
        }
    except territory_files.BundleTooLarge as exc:
        raise SetupError(str(exc)) from None
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, KeyError):
        raise SetupError(
            "Ce fichier n’est pas un export de territoire lisible (zip de JSON)."
        ) from None


def import_bundle(session: Session, data: bytes | Path, var_dir: Path | None = None) -> Territory:
    """Load a territory exported by :func:`export_bundle` (in the caller's transaction), from its
    bytes or its file (read as needed); with ``var_dir``, the files it carries too."""
    try:
        bundle = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    except OSError as exc:
        raise SetupError(f"Impossible de lire {exc.filename} : {exc.strerror}.") from None
    except zipfile.BadZipFile:
        raise SetupError(
            "Ce fichier n’est pas un export de territoire lisible (zip de JSON)."
        ) from None
    with bundle:
        return _import(session, bundle, var_dir)


def _import(session: Session, bundle: zipfile.ZipFile, var_dir: Path | None) -> Territory:
    files = _read_bundle(bundle)
    head = files["eclor-territory"]
    if not isinstance(head, dict) or head.get("version") != BUNDLE_VERSION:
        raise SetupError("Export de territoire d’une version qu’Eclor ne sait pas lire.")
    raw = files["territory"]
    if not isinstance(raw, dict):
        raise SetupError("territory.json doit être un objet JSON.")
    settings = {
        **raw,
        "colours": {"primary": raw.get("colour_primary"), "accent": raw.get("colour_accent")},
    }
    if raw.get("smtp_host"):
        settings["smtp"] = {
            "host": raw.get("smtp_host"),
            "port": raw.get("smtp_port", 587),
            "user": raw.get("smtp_user", ""),
            "password_env": raw.get("smtp_password_env", ""),
            "starttls": raw.get("smtp_starttls", True),
        }
    territory = check_settings(settings)
    for key in ("lat", "lon"):
        if not isinstance(raw.get(key), int | float):
            raise SetupError(f"territory.json : « {key} » doit être un nombre.")
        territory[key] = float(raw[key])
    communes = files["communes"]
    columns = set(Commune.model_fields) - {"territory_id"}
    if not isinstance(communes, list) or not communes:
        raise SetupError("communes.json ne contient aucune commune.")
    for commune in communes:
        if not isinstance(commune, dict) or set(commune) != columns:
            raise SetupError(
                "communes.json : chaque commune doit avoir les colonnes "
                + ", ".join(sorted(columns))
                + "."
            )
        country = commune["country"]
        if country not in COUNTRIES or not COUNTRIES[country].fullmatch(str(commune["code"])):
            raise SetupError(f"communes.json : code « {commune['code']} » invalide pour {country}.")
        if commune["insee"] != commune_key(country, commune["code"]):
            raise SetupError(
                f"communes.json : clé « {commune['insee']} » incohérente avec son code."
            )
    setup: dict[str, list[dict[str, Any]]] = {}
    for table in SETUP_TABLES:
        name = str(table.model.__tablename__)
        rows = files.get(name, [])
        allowed = set(table.columns or set(table.model.model_fields) - {"id", "territory_id"})
        if not isinstance(rows, list) or any(
            not isinstance(r, dict) or not set(r) <= allowed for r in rows
        ):
            raise SetupError(f"{name}.json : des lignes ont des colonnes inconnues.")
        required = allowed - set(table.optional)
        if table.columns and any(not required <= set(r) for r in rows):
            raise SetupError(
                f"{name}.json : chaque ligne doit avoir " + ", ".join(sorted(required))
            )
        commune_keys = {c["insee"] for c in communes}
        for r in rows:
            if "definition" in r and not json_object(r["definition"]):
                raise SetupError(
                    f"{name}.json : « {r.get('name')} » n’a pas de définition lisible."
                )
            problem = table.check(r, commune_keys) if table.check else None
            if problem:
                raise SetupError(f"{name}.json : {problem}.")
        setup[name] = rows
    _check_rule_teams(setup)
    codes = [r["code"] for r in setup.get("report_categories", [])] or REPORT_CATEGORIES
    declared = _bodies(files.get("bodies", []), communes, codes)
    _conflicts(session, territory, communes)
    for table in SETUP_TABLES:
        model: Any = table.model
        if table.key is None:  # the rows are the new territory's own: nothing to collide with
            continue
        rows = setup.get(str(model.__tablename__), [])
        counted = Counter(row.get(table.key) for row in rows)
        if table.unique and (twice := sorted(str(k) for k, n in counted.items() if n > 1)):
            raise SetupError(f"{table.label} « {twice[0]} » figure deux fois dans le paquet.")
        if not table.install_wide:
            continue  # unique within the new territory only: nothing of another can clash
        for row in setup.get(str(model.__tablename__), []):
            taken = row.get(table.key)
            if session.scalars(
                select(model).where(col(getattr(model, table.key)) == taken)
            ).first():
                raise SetupError(f"{table.label} « {taken} » existe déjà sur cette installation.")
    made = _write(session, territory, communes, setup, declared_bodies=declared)
    if var_dir is not None:
        assert made.id is not None
        try:
            finish = territory_files.load(bundle, session, made.id, var_dir, setup)
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            raise SetupError(str(exc)) from None
        for put_in_place in finish:
            put_in_place()
    return made


def _check_rule_teams(setup: dict[str, list[dict[str, Any]]]) -> None:
    """A rule of a bundle names one of the bundle's teams (the four trades when it brings none)."""
    codes = {t.get("code") for t in setup.get("maintenance_teams", [])} or {
        code for code, _name in DEFAULT_TEAMS
    }
    for rule in setup.get("maintenance_rules", []):
        team = rule.get("team", "")
        if team != "" and team not in codes:
            raise SetupError(
                f"maintenance_rules.json : « {rule.get('name')} » confie ses alarmes à l’équipe "
                f"« {team} », absente du paquet."
            )


# --------------------------------------------------------------------------- branding, on the web

BRANDING_FIELDS = (
    "name",
    "short_name",
    "colour_primary",
    "colour_accent",
    "contact_email",
    "hosts",
)


class BrandingError(ValueError):
    """A branding form that cannot be saved: the field and a French message (through gettext)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_branding(session: Session, territory: Territory, form: dict[str, str]) -> dict[str, Any]:
    """The branding columns a super-administrator's form gives for ``territory``, checked; nothing
    is written (:class:`BrandingError` on the first problem)."""
    from app.i18n import gettext as _

    out: dict[str, Any] = {}
    out["name"] = form.get("name", "").strip()
    if not out["name"]:
        raise BrandingError("name", _("Le nom du territoire est obligatoire."))
    if len(out["name"]) > 200:
        raise BrandingError("name", _("Le nom du territoire dépasse 200 caractères."))
    out["short_name"] = form.get("short_name", "").strip()
    if len(out["short_name"]) > 60:
        raise BrandingError("short_name", _("Le nom court dépasse 60 caractères."))
    for key in ("colour_primary", "colour_accent"):
        value = form.get(key, "").strip()
        if not COLOUR.fullmatch(value):
            raise BrandingError(key, _("Une couleur s’écrit #rrggbb, par exemple #0b5d3b."))
        out[key] = value.lower()
    out["contact_email"] = form.get("contact_email", "").strip()
    if out["contact_email"] and (
        len(out["contact_email"]) > 254 or not EMAIL.fullmatch(out["contact_email"])
    ):
        raise BrandingError(
            "contact_email", _("L’adresse de contact n’est pas une adresse e-mail.")
        )
    hosts = [h.strip().lower() for h in re.split(r"[\s,]+", form.get("hosts", "")) if h.strip()]
    for host in hosts:
        if not HOST.fullmatch(host):
            raise BrandingError(
                "hosts",
                _("« %(host)s » n’est pas un nom d’hôte (sans port ni chemin).") % {"host": host},
            )
    if len(set(hosts)) != len(hosts):
        raise BrandingError("hosts", _("Un nom d’hôte est donné deux fois."))
    first = session.scalars(select(col(Territory.id)).order_by(col(Territory.id))).first()
    if not hosts and territory.id != first:
        # Only the default territory answers on the hosts no territory names.
        raise BrandingError(
            "hosts",
            _("Donnez au moins un nom d’hôte : sans lui, le territoire ne serait plus servi."),
        )
    others = session.scalars(select(Territory).where(col(Territory.id) != territory.id)).all()
    for other in others:
        for host in hosts:
            if host in (other.hosts or ()):
                raise BrandingError(
                    "hosts",
                    _("Le nom d’hôte « %(host)s » sert déjà le territoire « %(name)s ».")
                    % {"host": host, "name": other.name},
                )
    out["hosts"] = hosts
    return out


def update_branding(session: Session, territory: Territory, form: dict[str, str]) -> Territory:
    """Save the branding of ``territory`` from a form (in the caller's transaction), once checked."""
    values = check_branding(session, territory, form)
    for key, value in values.items():
        setattr(territory, key, value)
    session.add(territory)
    session.flush()
    changed()
    return territory
