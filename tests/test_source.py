"""AGPL-3.0 §13: every page offers the source of the running Eclor, and /source serves it."""

from __future__ import annotations

import io
import tarfile
import tomllib
from pathlib import Path

from app import __version__, source
from app.main import create_app

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_is_written_once_in_pyproject_and_read_from_the_package_metadata():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert __version__ == declared
    written = [
        p for p in (ROOT / "app").rglob("*.py") if f'"{declared}"' in p.read_text(encoding="utf-8")
    ]
    assert written == [], f"the version is written again in {written}"


def test_the_licence_is_the_full_text_of_the_agpl_version_3():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith("GNU AFFERO GENERAL PUBLIC LICENSE")
    assert "Version 3, 19 November 2007" in text
    assert "13. Remote Network Interaction; Use with the GNU General Public License." in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert len(text.splitlines()) == 661


def test_every_page_links_to_the_source_code_in_its_footer(client, resident):
    for c, path in (
        (client, "/"),
        (client, "/about"),
        (client, "/reports"),
        (client, "/does-not-exist"),
        (resident.client, "/me"),
    ):
        r = c.get(path)
        footer = r.text.split('<footer class="site-footer">', 1)[1].split("</footer>", 1)[0]
        assert '<a href="/source" rel="license noopener">Code source</a>' in footer, path
        assert "AGPL-3.0" in footer


def test_the_about_page_offers_the_source_of_this_version_in_french_and_english(client):
    r = client.get("/about")
    assert "Télécharger le code source de cette version d’Eclor" in r.text
    assert f"Eclor {__version__}" in r.text
    r = client.get("/about", headers={"accept-language": "en"})
    assert (
        '<a href="/source" rel="license noopener">Download the source code of this version of Eclor</a>'
        in r.text
    )
    assert "Source code" in r.text


def test_the_source_link_follows_the_setting(settings, engine):
    moved = settings.model_copy(update={"source_url": "https://forge.example/eclor/eclor"})
    from litestar.testing import TestClient

    with TestClient(app=create_app(moved, engine)) as c:
        r = c.get("/about")
    assert (
        r.text.count('<a href="https://forge.example/eclor/eclor" rel="license noopener">') == 2
    )  # footer and about


def test_anyone_downloads_the_running_code_as_a_tarball_with_the_licence(client):
    r = client.get("/source")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/gzip"
    assert f'filename="eclor-{__version__}-source.tar.gz"' in r.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:gz") as tar:
        names = set(tar.getnames())
        prefix = f"eclor-{__version__}/"
        for needed in (
            "app/main.py",
            "app/source.py",
            "workers/__init__.py",
            "migrations/env.py",
            "pyproject.toml",
            "LICENSE",
            "README.md",
            "scripts/setup",
            "scripts/start",
        ):
            assert prefix + needed in names, needed
        assert not [
            n
            for n in names
            if "__pycache__" in n or n.endswith(".pyc") or "/var/" in n or "/.venv/" in n
        ]
        served = tar.extractfile(prefix + "app/source.py").read()
        assert tar.getmember(prefix + "scripts/start").mode & 0o111
    assert served == (ROOT / "app" / "source.py").read_bytes()


def test_the_archive_is_the_same_bytes_each_time_and_is_revalidated_by_etag(client):
    first = client.get("/source")
    assert source.build() == first.content
    again = client.get("/source", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_an_installed_copy_without_a_checkout_serves_its_packages_only(tmp_path):
    for pkg in ("app", "workers", "migrations"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("# code\n")
    (tmp_path / "app" / "__pycache__").mkdir()
    (tmp_path / "app" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "tests").mkdir()  # some other distribution's stray top-level folder
    (tmp_path / "tests" / "x.py").write_text("")
    assert source.files(tmp_path) == [
        "app/__init__.py",
        "migrations/__init__.py",
        "workers/__init__.py",
    ]
