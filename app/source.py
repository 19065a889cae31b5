"""The Corresponding Source of the running Eclor, as a .tar.gz (AGPL-3.0 §13).

Every page links to ``settings.source_url``. Its default, ``/source``, is
served by ``routes/home.py`` from :func:`archive`: the code this process runs
(``app/``, ``workers/``, ``migrations/``) and, from a source checkout, the
files needed to install, run and test it. Because the archive is built from
the running files, a modified deployment offers its modified source without
anyone having to remember to publish it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from functools import lru_cache
from pathlib import Path

from app import __version__

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "workers", "migrations")
# Present only in a source checkout (ROOT holds Eclor's pyproject.toml), never in site-packages.
CHECKOUT_FILES = (
    "pyproject.toml",
    "LICENSE",
    "README.md",
    "CHANGELOG.md",
    "CONTRIBUTING.md",
    "SECURITY.md",
    "babel.cfg",
    "requirements.lock",
    "requirements-dev.lock",
)
CHECKOUT_DIRS = ("scripts", "deploy", "docs", "tests", "bench", ".ci")
SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "node_modules"}
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".mo")


def _is_checkout(root: Path) -> bool:
    try:
        return 'name = "eclor"' in (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return False


def _walk(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found: list[Path] = []
    for child in sorted(path.iterdir()):
        if child.is_symlink():
            continue
        if child.is_dir():
            if child.name not in SKIPPED_DIRS:
                found.extend(_walk(child))
        elif not child.name.endswith(SKIPPED_SUFFIXES):
            found.append(child)
    return found


def files(root: Path = ROOT) -> list[str]:
    """Paths (relative to ``root``) that go into the archive, sorted."""
    names = list(PACKAGES)
    if _is_checkout(root):
        names += [*CHECKOUT_FILES, *CHECKOUT_DIRS]
    out: list[str] = []
    for name in names:
        top = root / name
        if top.exists():
            out.extend(p.relative_to(root).as_posix() for p in _walk(top))
    return sorted(out)


def filename() -> str:
    return f"eclor-{__version__}-source.tar.gz"


def build(root: Path = ROOT) -> bytes:
    """A reproducible .tar.gz of :func:`files` (fixed owners and times), under ``eclor-VERSION/``."""
    prefix = f"eclor-{__version__}"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in files(root):
            data = (root / rel).read_bytes()
            info = tarfile.TarInfo(f"{prefix}/{rel}")
            info.size = len(data)
            info.mode = 0o755 if (root / rel).stat().st_mode & 0o111 else 0o644
            info.mtime = 0
            info.uname = info.gname = "eclor"
            tar.addfile(info, io.BytesIO(data))
    # mtime=0 in the gzip header and in each entry: the same code gives the same bytes.
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


@lru_cache(maxsize=1)
def archive() -> tuple[bytes, str]:
    """The archive of this process's code and its ETag, built once (the code does not change)."""
    data = build()
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
