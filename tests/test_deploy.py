"""Production files: systemd units that systemd accepts, a proxy example that sets the forwarded
headers Eclor trusts, and CI running the production check."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ECLOR = Path(sys.executable).with_name("eclor")


def test_systemd_accepts_the_web_and_worker_units(tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze (Debian's systemd package) is needed"
    units = []
    for name, unit in (
        ("eclor-web.service", "eclor-web.service"),
        ("eclor-worker@.service", "eclor-worker@1.service"),
    ):
        text = (
            (DEPLOY / "systemd" / name)
            .read_text()
            .replace("/opt/eclor/.venv/bin/eclor", str(ECLOR))
        )
        (tmp_path / name).write_text(text)
        units.append(str(tmp_path / unit))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if "eclor" in line and "User" not in line
    ]  # the eclor system user exists only on servers
    assert done.returncode == 0 or not problems, done.stdout + done.stderr
    assert not problems, problems


def test_the_units_run_the_documented_commands_and_stop_gracefully():
    web = (DEPLOY / "systemd" / "eclor-web.service").read_text()
    worker = (DEPLOY / "systemd" / "eclor-worker@.service").read_text()
    assert (
        "ExecStart=/opt/eclor/.venv/bin/eclor serve --host 127.0.0.1 --port 8000 --workers 2" in web
    )
    assert "ExecStartPre=/opt/eclor/.venv/bin/eclor db upgrade" in web
    assert "Environment=FORWARDED_ALLOW_IPS=127.0.0.1,::1" in web
    assert "ExecStart=/opt/eclor/.venv/bin/eclor worker" in worker
    for unit in (web, worker):
        assert "EnvironmentFile=/etc/eclor/eclor.env" in unit and "KillSignal=SIGTERM" in unit
        assert "User=eclor" in unit and "StateDirectory=eclor" in unit


def test_the_proxy_examples_forward_the_client_address_and_the_docs_say_who_is_trusted():
    caddy = (DEPLOY / "Caddyfile").read_text()
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "reverse_proxy 127.0.0.1:8000" in caddy and "health_uri /healthz" in caddy
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in nginx
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in nginx
    readme = (ROOT / "README.md").read_text()
    assert "FORWARDED_ALLOW_IPS" in readme and "deploy/Caddyfile" in readme


def test_the_example_environment_file_is_production_and_complete():
    env = dict(
        line.split("=", 1)
        for line in (DEPLOY / "eclor.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert env["ECLOR_ENV"] == "production"
    for needed in (
        "ECLOR_SECRET_KEY",
        "ECLOR_DATABASE_URL",
        "ECLOR_MQTT_URL",
        "ECLOR_BASE_URL",
        "ECLOR_ALLOWED_HOSTS",
        "ECLOR_VAR_DIR",
        "ECLOR_MEDIA_DIR",
    ):
        assert env.get(needed), needed


def test_ci_runs_the_production_check_after_the_tests_and_fails_when_it_fails():
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("\nscripts/test\n") < ci.index("if ! scripts/production-check")
    assert (
        "if ! scripts/production-check; then" in ci
        and "exit 1" in ci.split("scripts/production-check; then")[1]
    )
