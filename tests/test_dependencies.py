"""Dependencies: every imported package is declared with a compatible-release bound, and the
lock files pin exactly what pyproject.toml asks for, with hashes."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
FIRST_PARTY = {"app", "workers", "migrations", "tests", "bench", "pushreceiver"}
# Declared but never imported, on purpose: the PostgreSQL driver is loaded by SQLAlchemy from the URL.
NOT_IMPORTED = {"psycopg"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ \\]+)")


def requirements(group: str | None = None) -> dict[str, Requirement]:
    lines = (
        PYPROJECT["dependencies"] if group is None else PYPROJECT["optional-dependencies"][group]
    )
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def imported_distributions(*folders: str) -> dict[str, str]:
    """Distribution name -> a file that imports it, for every third-party import under ``folders``."""
    providers = packages_distributions()
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in FIRST_PARTY:
                        continue
                    assert top in providers, (
                        f"{path.relative_to(ROOT)} imports {top!r}, which no installed package provides"
                    )
                    for dist in providers[top]:
                        found.setdefault(canonicalize_name(dist), str(path.relative_to(ROOT)))
    return found


def pins(lock: str) -> dict[str, Version]:
    text = (ROOT / lock).read_text()
    found = {canonicalize_name(m[1]): Version(m[2]) for m in map(PIN.match, text.splitlines()) if m}
    blocks = [b for b in re.split(r"\n(?=[A-Za-z0-9])", text) if PIN.match(b)]
    unhashed = [b.split()[0] for b in blocks if "--hash=sha256:" not in b]
    assert not unhashed, f"{lock}: pins without a hash: {unhashed}"
    return found


def test_every_package_the_application_imports_is_a_declared_dependency():
    declared = requirements()
    missing = {
        dist: where
        for dist, where in imported_distributions("app", "workers", "migrations").items()
        if dist not in declared
    }
    assert not missing, f"imported but not declared in [project.dependencies]: {missing}"


def test_every_package_the_tests_and_benchmarks_import_is_declared_for_development():
    declared = requirements() | requirements("dev")
    missing = {
        dist: where
        for dist, where in imported_distributions("tests", "bench", "scripts").items()
        if dist not in declared
    }
    assert not missing, f"imported but not declared (dependencies or the dev extra): {missing}"


def test_no_runtime_dependency_is_declared_without_being_used():
    used = set(imported_distributions("app", "workers", "migrations"))
    unused = set(requirements()) - used - NOT_IMPORTED
    assert not unused, (
        f"declared but never imported by app/, workers/ or migrations/: {sorted(unused)}"
    )
    assert "python-multipart" not in requirements()


def test_every_dependency_has_a_compatible_release_bound():
    for group in (None, "dev"):
        for name, req in requirements(group).items():
            operators = {spec.operator for spec in req.specifier}
            assert "~=" in operators, (
                f"{name}: {req.specifier} has no compatible-release (~=) bound"
            )


def test_authlib_is_at_least_the_release_that_fixed_its_advisory():
    assert not requirements()["authlib"].specifier.contains("1.6.8")
    assert pins("requirements.lock")["authlib"] >= Version("1.6.9")


def test_the_lock_files_pin_every_declared_dependency_within_its_bounds_with_hashes():
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    for lock, pinned, declared in (
        ("requirements.lock", runtime, requirements()),
        ("requirements-dev.lock", dev, requirements() | requirements("dev")),
    ):
        for name, req in declared.items():
            assert name in pinned, f"{lock} lacks {name}: run scripts/lock"
            assert req.specifier.contains(pinned[name], prereleases=True), (
                f"{lock} pins {name}=={pinned[name]} outside {req.specifier}: run scripts/lock"
            )
    different = {n: (v, dev[n]) for n, v in runtime.items() if n in dev and dev[n] != v}
    assert not different, f"the two lock files disagree: {different}"
    assert set(runtime) <= set(dev)


def test_setup_installs_from_the_lock_file_with_hashes_and_then_eclor_without_dependencies():
    setup = (ROOT / "scripts" / "setup").read_text()
    assert 'pip install -q --require-hashes -r "$lock"' in setup
    assert "pip install -q --no-deps -e ." in setup
