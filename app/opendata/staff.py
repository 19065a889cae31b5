"""Staff control of open data: what is published, datasets added from a file, downloads, readers' errors.

Every function runs in the caller's write transaction and changes nothing
when it raises ``OpenDataError`` (a French message for the form). Each works for the session's
territory (``app.opendata.scope.territory``): its choices, uploads, downloads and readers' reports;
another territory's are unknown.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app.db import table_of, utcnow
from app.i18n import gettext as _
from app.models.opendata import OpenDataDownload, OpenDataIssue, OpenDataSetting, OpenDataUpload
from app.opendata import registry, scope
from app.opendata.catalogue import FREQUENCIES, THEMES
from app.opendata.schemas import check_row, columns_of

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,60}$")
MAX_ROWS = 200_000


class OpenDataError(ValueError):
    pass


def set_published(
    session: Session, var_dir: Path, slug: str, published: bool, user_id: int
) -> None:
    if registry.find(session, var_dir, slug, only_published=False) is None:
        raise OpenDataError(_("Jeu de données inconnu."))
    territory_id = scope.territory(session).id
    row = session.get(OpenDataSetting, (territory_id, slug)) or OpenDataSetting(
        territory_id=territory_id, slug=slug
    )
    row.published, row.updated_at, row.updated_by = published, utcnow(), user_id
    session.add(row)


def count_download(session: Session, slug: str, fmt: str) -> None:
    """One more download of the territory's ``slug`` in ``fmt`` today (an atomic upsert: two web
    nodes never lose one)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = table_of(OpenDataDownload)
    stmt = insert(table).values(
        territory_id=scope.territory(session).id, slug=slug, fmt=fmt, day=utcnow().date(), count=1
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["territory_id", "slug", "fmt", "day"],
        set_={"count": table.c["count"] + 1},
    )
    session.execute(stmt)


def downloads_by_format(session: Session) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    territory_id = scope.territory(session).id
    for row in session.scalars(
        select(OpenDataDownload).where(col(OpenDataDownload.territory_id) == territory_id)
    ):
        per = out.setdefault(row.slug, {})
        per[row.fmt] = per.get(row.fmt, 0) + row.count
    return out


def issues(session: Session, limit: int = 100) -> list[OpenDataIssue]:
    """The territory's readers' reports, open ones first, newest first."""
    return list(
        session.scalars(
            select(OpenDataIssue)
            .where(col(OpenDataIssue.territory_id) == scope.territory(session).id)
            .order_by(col(OpenDataIssue.status).desc(), col(OpenDataIssue.created_at).desc())
            .limit(limit)
        )
    )


def answered_issues(session: Session, slug: str, limit: int = 20) -> list[OpenDataIssue]:
    """The territory's answered reports on ``slug``, the latest answer first (public)."""
    return list(
        session.scalars(
            select(OpenDataIssue)
            .where(
                col(OpenDataIssue.territory_id) == scope.territory(session).id,
                col(OpenDataIssue.slug) == slug,
                col(OpenDataIssue.status) == "answered",
            )
            .order_by(col(OpenDataIssue.answered_at).desc())
            .limit(limit)
        )
    )


def report_issue(
    session: Session, var_dir: Path, slug: str, body: str, reporter_id: int | None
) -> OpenDataIssue:
    if registry.find(session, var_dir, slug) is None:
        raise OpenDataError(_("Jeu de données inconnu."))
    text = body.strip()
    if len(text) < 10:
        raise OpenDataError(_("Décrivez l'erreur en quelques mots (10 caractères au moins)."))
    if len(text) > 2000:
        raise OpenDataError(_("Le message est trop long (2000 caractères au plus)."))
    issue = OpenDataIssue(
        territory_id=scope.territory(session).id, slug=slug, body=text, reporter_id=reporter_id
    )
    session.add(issue)
    session.flush()
    return issue


def answer_issue(session: Session, issue_id: int, answer: str, user_id: int) -> OpenDataIssue:
    issue = session.get(OpenDataIssue, issue_id)
    if issue is None or issue.territory_id != scope.territory(session).id:
        raise OpenDataError(_("Signalement inconnu."))
    text = answer.strip()
    if not 2 <= len(text) <= 2000:
        raise OpenDataError(_("La réponse doit faire entre 2 et 2000 caractères."))
    issue.answer, issue.status, issue.answered_at, issue.answered_by = (
        text,
        "answered",
        utcnow(),
        user_id,
    )
    session.add(issue)
    return issue


def _rows_from_csv(data: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OpenDataError(_("Le fichier CSV doit être encodé en UTF-8.")) from None
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    return header, [{(k or "").strip(): v for k, v in row.items()} for row in reader]


def _rows_from_geojson(data: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise OpenDataError(_("Le fichier GeoJSON n'est pas un JSON valide en UTF-8.")) from None
    if (
        not isinstance(doc, dict)
        or doc.get("type") != "FeatureCollection"
        or not isinstance(doc.get("features"), list)
    ):
        raise OpenDataError(_("Le GeoJSON doit être une FeatureCollection."))
    rows: list[dict[str, Any]] = []
    header: list[str] = []
    for i, feature in enumerate(doc["features"], start=1):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        props = feature.get("properties") if isinstance(feature, dict) else None
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if not (
            isinstance(geometry, dict)
            and geometry.get("type") == "Point"
            and isinstance(coords, list)
            and len(coords) >= 2
            and all(isinstance(c, int | float) for c in coords[:2])
        ):
            raise OpenDataError(
                _("Objet %(n)s : seuls les points (Point) sont acceptés.") % {"n": i}
            )
        row = dict(props) if isinstance(props, dict) else {}
        row["longitude"], row["latitude"] = coords[0], coords[1]
        for key in row:
            if key not in header:
                header.append(key)
        rows.append(row)
    return header, rows


def add_upload(
    session: Session,
    var_dir: Path,
    user_id: int,
    *,
    slug: str,
    title: str,
    description: str,
    theme: str,
    keywords: str,
    frequency: str,
    publish: bool,
    schema_bytes: bytes,
    filename: str,
    data: bytes,
) -> OpenDataUpload:
    """Validate ``data`` (CSV or GeoJSON) against the Table Schema, then store it as a new dataset."""
    slug = slug.strip().lower()
    if not SLUG.match(slug):
        raise OpenDataError(
            _("Identifiant invalide : lettres minuscules, chiffres et tirets (2 à 61).")
        )
    if registry.find(session, var_dir, slug, only_published=False) is not None:
        raise OpenDataError(_("Un jeu de données porte déjà cet identifiant."))
    if not 3 <= len(title.strip()) <= 200:
        raise OpenDataError(_("Donnez un titre (3 à 200 caractères)."))
    if theme not in THEMES or frequency not in FREQUENCIES:
        raise OpenDataError(_("Thème ou fréquence inconnus."))
    try:
        schema = json.loads(schema_bytes.decode("utf-8"))
        columns = columns_of(schema)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise OpenDataError(_("Le schéma doit être un fichier Table Schema en JSON.")) from None
    except ValueError as exc:
        raise OpenDataError(str(exc)) from None
    is_geo = filename.lower().endswith((".geojson", ".json"))
    header, raw_rows = (_rows_from_geojson if is_geo else _rows_from_csv)(data)
    names = [c.name for c in columns]
    missing = [n for n in names if n not in header]
    unknown = [h for h in header if h not in names]
    if missing or unknown:
        raise OpenDataError(
            _(
                "Les colonnes du fichier ne sont pas celles du schéma (manquantes : %(missing)s ; "
                "en trop : %(unknown)s)."
            )
            % {"missing": ", ".join(missing) or "—", "unknown": ", ".join(unknown) or "—"}
        )
    if not raw_rows or len(raw_rows) > MAX_ROWS:
        raise OpenDataError(
            _("Le fichier doit contenir entre 1 et %(max)s lignes.") % {"max": MAX_ROWS}
        )
    checked = []
    for line, row in enumerate(raw_rows, start=2):
        try:
            checked.append(check_row(columns, row, line))
        except ValueError as exc:
            raise OpenDataError(str(exc)) from None
    publisher = scope.territory(session)
    upload = OpenDataUpload(
        territory_id=publisher.id,
        slug=slug,
        title=title.strip(),
        description=description.strip()[:4000],
        theme=theme,
        keywords=keywords.strip()[:300],
        frequency=frequency,
        table_schema=json.dumps(schema, ensure_ascii=False),
        rows=len(checked),
        uploaded_by=user_id,
    )
    session.add(upload)
    session.add(
        OpenDataSetting(territory_id=publisher.id, slug=slug, published=publish, updated_by=user_id)
    )
    session.flush()
    target = registry.uploads_dir(var_dir, publisher)
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f".{slug}.csv.tmp"
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(names)
        for row in checked:
            writer.writerow(
                [
                    ""
                    if row[n] is None
                    else ("true" if row[n] is True else "false" if row[n] is False else row[n])
                    for n in names
                ]
            )
    os.replace(tmp, target / f"{slug}.csv")
    return upload
