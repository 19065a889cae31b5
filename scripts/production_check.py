"""Starts Eclor's production topology on this machine, checks it end to end, stops it.

Run through ``scripts/production-check`` (CI runs it after the test suite). What runs:

- PostgreSQL at 127.0.0.1:5432, in a fresh database made for this run and dropped after it
  (``ECLOR_CHECK_PG_ADMIN_URL`` to use another server);
- Mosquitto at 127.0.0.1:1883 (``ECLOR_CHECK_MQTT_URL``), under a topic prefix of its own;
- ``eclor serve --workers 2`` (two web processes) and two ``eclor worker`` processes, with
  ``ECLOR_ENV=production`` and a freshly generated secret key and VAPID key.

What is checked: ``/healthz`` answers 200 and two web processes serve; a resident signs in,
reports a dump site with a photo; staff signs in and moves the report on, and a worker delivers
the reporter's notification (the e-mail lands in the mail folder, the jobs end ``done``);
``eclor lights set`` issues an override that a worker relays through Mosquitto to the light,
whose acknowledgement (sent here, as a device would) brings the command to ``applied``.
Everything started here is stopped, the database dropped. Exit 0 when all is well, 1 otherwise
(with the processes' logs).
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
ECLOR = str(Path(sys.executable).with_name("eclor"))
PG_ADMIN = os.environ.get(
    "ECLOR_CHECK_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MQTT_URL = os.environ.get("ECLOR_CHECK_MQTT_URL", "mqtt://127.0.0.1:1883")
PASSWORD = "production-check-" + secrets.token_hex(8)
TIMEOUT_S = 45.0
STARTED = time.monotonic()
PASSED: list[str] = []


class CheckFailed(Exception):
    pass


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:5.1f}s] {message}", flush=True)


def passed(message: str) -> None:
    PASSED.append(message)
    say("ok: " + message)


def wait_for(what: str, probe: Callable[[], Any], timeout: float = TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    raise CheckFailed(f"{what}: not after {timeout:.0f} s (last: {last!r})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Topology:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.db_name = f"eclor_check_{uuid.uuid4().hex[:10]}"
        self.port = free_port()
        self.prefix = f"eclor-check-{uuid.uuid4().hex[:8]}"
        self.processes: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        from app.push import generate_vapid_keys

        vapid_private, _public = generate_vapid_keys()
        admin = make_url(PG_ADMIN)
        self.database_url = admin.set(database=self.db_name).render_as_string(hide_password=False)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ECLOR_")},
            "ECLOR_ENV": "production",
            "ECLOR_SECRET_KEY": secrets.token_urlsafe(48),
            "ECLOR_DATABASE_URL": self.database_url,
            "ECLOR_MQTT_URL": MQTT_URL,
            "ECLOR_MQTT_PREFIX": self.prefix,
            "ECLOR_VAR_DIR": str(work / "var"),
            "ECLOR_MEDIA_DIR": str(work / "media"),
            "ECLOR_BASE_URL": f"http://127.0.0.1:{self.port}",
            "ECLOR_VAPID_PRIVATE_KEY": vapid_private,
            "ECLOR_VAPID_SUBJECT": "https://www.ccphva.com/",
            "ECLOR_WORKER_POLL_SECONDS": "0.2",
            "ECLOR_LIGHTING_RECONCILE_S": "1",  # overrides become commands within a second
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
        }

    # --- database ---------------------------------------------------------------------------

    def create_database(self) -> None:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.db_name}"'))
        admin.dispose()

    def drop_database(self) -> None:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        admin.dispose()

    def query(self, sql: str, **params: Any) -> list[Any]:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), params).all())
        finally:
            engine.dispose()

    # --- processes --------------------------------------------------------------------------

    def run(self, *args: str, stdin: bytes | None = None) -> str:
        done = subprocess.run(
            [ECLOR, *args], env=self.env, input=stdin, capture_output=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise CheckFailed(
                f"eclor {' '.join(args)} exited {done.returncode}:\n"
                + done.stdout.decode(errors="replace")
                + done.stderr.decode(errors="replace")
            )
        return done.stdout.decode()

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.work / f"{name}.log"
        proc = subprocess.Popen(
            [ECLOR, *args],
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((name, proc, log))
        return proc

    def stop_all(self) -> None:
        for _name, proc, _log in reversed(self.processes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc, _log in reversed(self.processes):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop on SIGTERM within 20 s: killed")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def check_alive(self) -> None:
        for name, proc, _log in self.processes:
            if proc.poll() is not None:
                raise CheckFailed(f"{name} exited with {proc.returncode}")

    def show_logs(self) -> None:
        for name, _proc, log in self.processes:
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            print(f"----- {name} (last 40 lines of {len(lines)}) -----", file=sys.stderr)
            print("\n".join(lines[-40:]), file=sys.stderr)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if re.search(rf"^PPid:\s+{pid}$", status, re.MULTILINE):
                found.append(int(entry.name))
    return found


def sign_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=20.0, follow_redirects=False)
    r = client.get("/login")
    if r.status_code != 200 or "csrftoken" not in client.cookies:
        raise CheckFailed(f"GET /login: {r.status_code}, cookies {list(client.cookies)}")
    r = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "_csrf_token": client.cookies["csrftoken"]},
    )
    if r.status_code != 303:
        raise CheckFailed(f"sign-in of {email}: {r.status_code} {r.text[:300]}")
    me = client.get("/me")
    if me.status_code != 200 or email not in me.text:
        raise CheckFailed(f"/me after sign-in of {email}: {me.status_code}")
    return client


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 120, 60)).save(out, "JPEG", quality=85)
    return out.getvalue()


def check(top: Topology) -> None:
    base = top.env["ECLOR_BASE_URL"]
    say(f"database {top.db_name}: migrations")
    top.run("db", "upgrade")
    for email, role in (("habitante@check.test", "resident"), ("agent@check.test", "staff")):
        top.run("users", "create", email, "--role", role, "--password", PASSWORD)
    inventory = top.work / "lights.csv"
    inventory.write_text(
        "id,lat,lon,device_id,group,group_name\n"
        "PC-1,49.4720,5.9800,pc-dev-1,pc-rue,Rue du contrôle\n"
    )
    top.run("lights", "import", str(inventory))

    say(f"starting eclor serve --workers 2 on 127.0.0.1:{top.port} and two eclor workers")
    web = top.start(
        "web", "serve", "--host", "127.0.0.1", "--port", str(top.port), "--workers", "2"
    )
    top.start("worker-1", "worker")
    top.start("worker-2", "worker")

    def healthy() -> bool:
        top.check_alive()
        r = httpx.get(base + "/healthz", timeout=5)
        body = r.json() if r.status_code == 200 else {}
        # The database answers and the two workers beat (``worker.status`` is "ok").
        return (
            body.get("status") == "ok"
            and body.get("database") == "ok"
            and body.get("worker", {}).get("status") == "ok"
        )

    wait_for("/healthz answering 200", healthy, timeout=60)
    web_processes = wait_for(
        "two web processes under eclor serve",
        lambda: len(children(web.pid)) >= 2 and children(web.pid),
    )
    passed(f"/healthz answers 200 in production; web processes {web_processes}")
    home = httpx.get(base + "/", timeout=10)
    if home.status_code != 200 or 'href="/source"' not in home.text:
        raise CheckFailed(f"home page: {home.status_code}")

    resident = sign_in(base, "habitante@check.test")
    passed("a resident signs in")
    form = {
        "category": "household_waste",
        "description": "Sacs déposés au contrôle de production",
        "volume": "bag",
        "commune": "57038",
        "lat": "49.4725",
        "lon": "5.9555",
        "idempotency_key": str(uuid.uuid4()),
        "_csrf_token": resident.cookies["csrftoken"],
    }
    r = resident.post(
        "/reports/new", data=form, files={"photos": ("depot.jpg", jpeg(), "image/jpeg")}
    )
    if r.status_code != 303 or not re.match(
        r"^/reports/\d+\?sent=1$", r.headers.get("location", "")
    ):
        raise CheckFailed(f"report: {r.status_code} {r.headers.get('location')} {r.text[:400]}")
    report_id = int(r.headers["location"].split("/")[2].split("?")[0])
    say(f"report {report_id} created")

    staff = sign_in(base, "agent@check.test")
    r = staff.post(
        f"/staff/reports/{report_id}/status",
        data={
            "status": "in_progress",
            "note": "Équipe en route.",
            "_csrf_token": staff.cookies["csrftoken"],
        },
    )
    if r.status_code != 303:
        raise CheckFailed(f"staff status change: {r.status_code} {r.text[:400]}")
    mail_dir = Path(top.env["ECLOR_VAR_DIR"]) / "mail"

    def delivered() -> list[Path]:
        top.check_alive()
        return [
            p
            for p in mail_dir.glob("*.eml")
            if "habitante@check.test" in p.read_text(errors="replace")
        ]

    mails = wait_for("the reporter's notification delivered by a worker", delivered)

    def finished() -> list[Any]:
        # The notification job enqueues the mail and is marked done just after: the other worker
        # may have sent the mail before then.
        top.check_alive()
        jobs = top.query(
            "SELECT kind, status, locked_by FROM jobs WHERE kind IN ('notify.user', 'mail.send')"
        )
        return jobs if jobs and all(status == "done" for _kind, status, _by in jobs) else []

    jobs = wait_for("the notification jobs done", finished, timeout=30)
    passed(f"a report moved on by staff is notified by a worker ({len(mails)} e-mail, jobs {jobs})")

    lighting(top)


def lighting(top: Topology) -> None:
    host, port = urlsplit(MQTT_URL).hostname or "127.0.0.1", urlsplit(MQTT_URL).port or 1883
    received: list[dict[str, Any]] = []
    arrived = threading.Event()
    device = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"{top.prefix}-device", protocol=mqtt.MQTTv5
    )

    def on_message(client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        payload = json.loads(message.payload)
        received.append(payload)
        ack = {
            "command_id": payload["command_id"],
            "status": "applied",
            "actual_level": payload["level"],
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        client.publish(f"{top.prefix}/ack/light/pc-dev-1", json.dumps(ack), qos=1)
        arrived.set()

    subscribed = threading.Event()
    device.on_message = on_message
    device.on_subscribe = lambda *_args: subscribed.set()
    device.on_connect = lambda client, *_args: client.subscribe(
        f"{top.prefix}/cmd/light/pc-dev-1", qos=1
    )
    device.connect(host, port)
    device.loop_start()
    try:
        if not subscribed.wait(10):
            raise CheckFailed(f"could not subscribe on the broker at {MQTT_URL}")
        device.publish(
            f"{top.prefix}/status/pc-dev-1", "online", qos=1, retain=True
        ).wait_for_publish(5)
        top.run("lights", "set", "--light", "PC-1", "--level", "35", "--minutes", "30")
        if not arrived.wait(TIMEOUT_S):
            raise CheckFailed("no lighting command reached the device through Mosquitto")
        command = received[0]
        if command.get("kind") != "setLevel" or command.get("level") != 35:
            raise CheckFailed(f"unexpected command payload: {command}")

        def applied() -> bool:
            top.check_alive()
            rows = top.query(
                "SELECT state FROM light_commands WHERE command_id = :c", c=command["command_id"]
            )
            return bool(rows) and rows[0][0] == "applied"

        wait_for("the command acknowledged as applied", applied)
        passed(
            f"a lighting override goes through Mosquitto and is applied ({command['command_id']})"
        )
    finally:
        device.publish(
            f"{top.prefix}/status/pc-dev-1", b"", qos=1, retain=True
        )  # clear the retained status
        device.loop_stop()
        device.disconnect()


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="eclor-production-check-"))
    top = Topology(work)
    ok = False
    try:
        top.create_database()
        check(top)
        ok = True
    except CheckFailed as exc:
        print(f"PRODUCTION CHECK FAILED: {exc}", file=sys.stderr)
    finally:
        top.stop_all()
        if not ok:
            top.show_logs()
        stops = {name: proc.returncode for name, proc, _log in top.processes}
        say(f"stopped {stops}")
        top.drop_database()
        shutil.rmtree(work, ignore_errors=True)
    if ok:
        say("production check passed")
    # The plain closing line CI reads: each check above is one.
    print(f"production-check: {len(PASSED)} passed, {0 if ok else 1} failed", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
