"""The rows of the datasets a territory's staff uploaded travel in its bundle: ``eclor territory
export`` carries each one's stored file (checked again: nothing that looks like personal data
leaves), ``import`` checks every line against the dataset's Table Schema and reproduces the file
byte for byte, and export → import → export gives the same rows. A bad or absurdly large bundle is
refused in French and nothing is written, neither rows nor files."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from app import cli, territories, territory_files
from app.cli import main as cli_main
from app.db import make_engine, write_session
from app.migrate import upgrade
from app.models.opendata import OpenDataUpload
from app.models.territory import Territory
from app.opendata import registry, snapshots, staff
from app.territory_setup import SetupError, export_bundle, import_bundle
from tests.conftest import fresh_database_url
from tests.test_territory_opendata import B_UPLOAD, two  # noqa: F401 (fixture)

WATER = "points-eau-minett"
WATER_SCHEMA = {
    "fields": [
        {"name": "nom", "type": "string", "constraints": {"required": True}},
        {"name": "debit", "type": "number"},
        {"name": "potable", "type": "boolean"},
        {"name": "mise_en_service", "type": "date"},
        {"name": "latitude", "type": "number"},
        {"name": "longitude", "type": "number"},
    ]
}
WATER_CSV = (
    "nom;debit;potable;mise_en_service;latitude;longitude\n"
    "Fontaine de la place;1.5;oui;2019-05-02;49.4951;5.9806\n"
    "Borne « Brill »;;non;;49.4962;5.9811\n"
    "Point d’eau du parc;12;vrai;2024-11-30;49.4970;5.9790\n"
)


@pytest.fixture
def water(engine, settings, two, personas) -> Path:  # noqa: F811
    """A second dataset uploaded by the Minett's staff (a semicolon CSV, typed columns, empty
    cells); the path of its stored file."""
    with write_session(engine) as s:
        minett = territories.read(s).by_slug["minett"]
        territories.bind(s, minett)
        staff.add_upload(
            s,
            settings.var_dir,
            personas["resident"].id,
            slug=WATER,
            title="Points d’eau du Minett",
            description="Fontaines et bornes.",
            theme="ENVI",
            keywords="eau",
            frequency="ANNUAL",
            publish=True,
            schema_bytes=json.dumps(WATER_SCHEMA).encode(),
            filename="eau.csv",
            data=WATER_CSV.encode(),
        )
    return registry.uploads_dir(settings.var_dir, minett) / f"{WATER}.csv"


def _members(bundle: bytes, folder: str = "opendata_rows/") -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as z:
        return {n: z.read(n) for n in z.namelist() if n.startswith(folder)}


def _fresh(tmp_path: Path) -> tuple[str, Any, Path]:
    other = fresh_database_url(tmp_path / "other")
    (tmp_path / "other").mkdir(exist_ok=True)
    upgrade(other)
    return other, make_engine(other), tmp_path / "other" / "var"


def _replaced(bundle: bytes, changes: dict[str, bytes | None]) -> bytes:
    """The bundle with some members changed (None: left out) or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if name not in changes:
                dst.writestr(name, src.read(name))
        for name, data in changes.items():
            if data is not None:
                dst.writestr(name, data)
    return out.getvalue()


def _nothing_written(fresh: Any, var: Path) -> None:
    with Session(fresh) as s:
        assert s.scalars(select(Territory).where(col(Territory.slug) == "minett")).first() is None
        assert s.scalars(select(OpenDataUpload)).first() is None
    assert not [p for p in var.rglob("*") if p.is_file()] if var.exists() else True


def test_export_import_export_carries_the_uploaded_datasets_rows_byte_for_byte(
    engine, settings, tmp_path, monkeypatch, capsysbinary, water
):
    stored = {B_UPLOAD: water.with_name(f"{B_UPLOAD}.csv").read_bytes(), WATER: water.read_bytes()}
    monkeypatch.setenv("ECLOR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ECLOR_VAR_DIR", str(settings.var_dir))
    cli.get_settings.cache_clear()
    assert cli_main(["territory", "export", "minett"]) == 0
    bundle = capsysbinary.readouterr().out
    rows = _members(bundle)
    assert rows == {f"opendata_rows/{slug}.csv": data for slug, data in stored.items()}
    assert b"Fontaine de la place" in rows[f"opendata_rows/{WATER}.csv"]
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle)

    other, fresh, var = _fresh(tmp_path)
    try:
        monkeypatch.setenv("ECLOR_DATABASE_URL", other)
        monkeypatch.setenv("ECLOR_VAR_DIR", str(var))
        cli.get_settings.cache_clear()
        assert cli_main(["territory", "import", str(path)]) == 0, capsysbinary.readouterr().err
        with Session(fresh) as s:
            minett = territories.read(s).by_slug["minett"]
            counted = {
                u.slug: u.rows
                for u in s.scalars(
                    select(OpenDataUpload).where(col(OpenDataUpload.territory_id) == minett.id)
                )
            }
        assert counted == {B_UPLOAD: 1, WATER: 3}
        here = registry.uploads_dir(var, minett)
        assert {slug: (here / f"{slug}.csv").read_bytes() for slug in stored} == stored
        # The new install publishes the rows it received.
        written = snapshots.generate(fresh, var, settings.base_url, None, minett)
        assert {w.slug: w.rows for w in written if w.slug in stored} == counted
        # And exports them again, the same.
        capsysbinary.readouterr()
        assert cli_main(["territory", "export", "minett"]) == 0
        again = capsysbinary.readouterr().out
        assert _members(again) == rows
        with zipfile.ZipFile(io.BytesIO(again)) as z:
            uploads = json.loads(z.read("opendata_uploads.json"))
        with zipfile.ZipFile(io.BytesIO(bundle)) as z:
            assert uploads == json.loads(z.read("opendata_uploads.json"))
    finally:
        fresh.dispose()
        cli.get_settings.cache_clear()


def test_a_bad_or_absurdly_large_bundle_of_rows_is_refused_in_french_and_nothing_is_written(
    engine, settings, tmp_path, monkeypatch, water
):
    with Session(engine) as s:
        bundle = export_bundle(s, "minett", settings.var_dir)
    name = f"opendata_rows/{WATER}.csv"
    good = _members(bundle)[name]
    email = (
        good
        + "Fontaine de Jean,2,true,,49.5,5.98\r\njean.dupont@example.lu,1,true,,49.5,5.98\r\n".encode()
    )
    other, fresh, var = _fresh(tmp_path)
    try:
        for changes, message in (
            ({name: email}, "adresse e-mail"),
            ({name: good.replace(b"true", b"peut-etre", 1)}, "boolean"),
            ({name: good.replace(b"nom,", b"name,", 1)}, "Table Schema"),
            ({name: b"\xff\xfe" + good}, "UTF-8"),
            ({"opendata_rows/inconnu.csv": good}, "ne décrit pas"),
            ({"cartes/fond.png": b"x"}, "fichier inconnu"),
        ):
            with pytest.raises(SetupError, match=message), write_session(fresh) as s:
                import_bundle(s, _replaced(bundle, changes), var)
            _nothing_written(fresh, var)
        # Larger than a bundle may carry: refused before a line is read.
        monkeypatch.setattr(territory_files, "MAX_FILE_BYTES", len(good) - 1)
        with pytest.raises(SetupError, match="trop volumineux"), write_session(fresh) as s:
            import_bundle(s, bundle, var)
        _nothing_written(fresh, var)
    finally:
        fresh.dispose()


def test_a_stored_dataset_that_looks_personal_or_too_large_refuses_the_export(
    engine, settings, monkeypatch, capsysbinary, water
):
    monkeypatch.setenv("ECLOR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ECLOR_VAR_DIR", str(settings.var_dir))
    cli.get_settings.cache_clear()
    monkeypatch.setattr(territory_files, "MAX_FILE_BYTES", 64)
    assert cli_main(["territory", "export", "minett"]) == 2
    out = capsysbinary.readouterr()
    assert out.out == b"" and "trop volumineux" in out.err.decode()
    monkeypatch.setattr(territory_files, "MAX_FILE_BYTES", 64 * 1024 * 1024)
    with water.open("a", encoding="utf-8", newline="") as f:
        f.write("Appeler le 06 12 34 56 78,2,true,,49.5,5.98\r\n")
    assert cli_main(["territory", "export", "minett"]) == 2
    out = capsysbinary.readouterr()
    assert out.out == b"" and "numéro de téléphone" in out.err.decode()
    cli.get_settings.cache_clear()
