"""Settings: ECLOR_ environment, development secret shared by processes, production refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent


def test_settings_are_read_from_eclor_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("ECLOR_BASE_URL", "https://eclor.example")
    monkeypatch.setenv("ECLOR_MQTT_PREFIX", "phva")
    monkeypatch.setenv("ECLOR_VAR_DIR", str(tmp_path))
    s = Settings()
    assert s.base_url == "https://eclor.example" and s.https and s.mqtt_prefix == "phva"
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'eclor.db'}"


def test_in_development_a_secret_key_is_made_once_and_shared(tmp_path):
    a = Settings(var_dir=tmp_path).prepare().secret_key
    b = Settings(var_dir=tmp_path).prepare().secret_key
    assert a == b and len(a) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_the_web_app_and_the_worker_processes_share_the_development_secret(tmp_path):
    code = "from app.settings import Settings; print(Settings().prepare().secret_key)"
    env = {"ECLOR_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    outs = [
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert outs[0] == outs[1] != ""


def test_production_without_a_secret_key_is_a_clear_startup_error(tmp_path):
    with pytest.raises(SettingsError, match="ECLOR_SECRET_KEY"):
        Settings(env="production", var_dir=tmp_path, database_url="postgresql://x/y").prepare()


def test_the_cli_says_what_is_wrong_in_production_without_a_secret(tmp_path):
    env = {"ECLOR_ENV": "production", "ECLOR_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert "ECLOR_SECRET_KEY" in r.stderr and "Traceback" not in r.stderr
