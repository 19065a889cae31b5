"""A full disk answers the photo routes with a clear 507 page, never 500, and keeps nothing.

The real thing: ``eclor serve`` runs in its own mount namespace (``unshare``) whose media
folder is a 64 KiB tmpfs filled to the last byte, so writing a photo fails with ENOSPC from
the kernel, as it would on a full volume. The database lives elsewhere (it is not full).
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from app import auth
from app.db import read_session, write_session
from app.models.carpool import CarpoolProfile
from app.models.sharing import SharedItem
from tests.live_server import free_port

ROOT = Path(__file__).resolve().parent.parent


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((320, 240), 60).convert("RGB").save(buf, "JPEG", quality=95)
    return buf.getvalue()


def serve_with_a_full_media_disk(settings, media: Path):
    media.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dict(
        os.environ,
        ECLOR_ENV="test",
        ECLOR_DATABASE_URL=settings.database_url,
        ECLOR_VAR_DIR=str(settings.var_dir),
        ECLOR_MEDIA_DIR=str(media),
        ECLOR_SECRET_KEY=settings.secret_key,
        ECLOR_MQTT_EMBEDDED_PORT=str(free_port()),
    )
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(media))} && "
        f"(dd if=/dev/zero of={shlex.quote(str(media / 'filler'))} bs=4k 2>/dev/null; true) && "
        f"exec {shlex.quote(sys.executable)} -m app.cli serve --port {port}"
    )
    proc = subprocess.Popen(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # a loaded machine takes a while to import the whole app
    while True:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        try:
            if httpx.get(base + "/livez", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.3)


def signed_in(engine, settings, base: str) -> tuple[int, httpx.Client]:
    with write_session(engine) as s:
        user = auth.create_user(s, "julie@eclor.test", display_name="Julie")
        token = auth.start_session(
            s,
            user,
            idle_minutes=settings.session_idle_minutes,
            absolute_days=settings.session_absolute_days,
        )
        user_id = user.id
    client = httpx.Client(base_url=base, timeout=60, cookies={auth.SESSION_COOKIE: token})
    client.get("/about")
    return user_id, client


@pytest.mark.timeout(400)  # starts a real server: slow on a loaded machine
def test_photo_uploads_on_a_full_disk_answer_507_and_keep_nothing(engine, settings, tmp_path):
    media = tmp_path / "full-media"
    proc, base = serve_with_a_full_media_disk(settings, media)
    try:
        user_id, client = signed_in(engine, settings, base)
        try:
            csrf = client.cookies["csrftoken"]
            ad = client.post(
                "/sharing/items",
                data={
                    "_csrf_token": csrf,
                    "kind": "give",
                    "title": "Vélo d'enfant",
                    "category": "kids",
                    "condition": "good",
                    "commune_insee": "54580",
                },
                files={"photos": ("v.jpg", jpeg(), "image/jpeg")},
            )
            profile = client.post(
                "/carpool/profile",
                data={"_csrf_token": csrf, "first_name": "Julie", "phone": "", "about": ""},
                files={"photo": ("me.jpg", jpeg(), "image/jpeg")},
            )
            alive = client.get("/sharing")
        finally:
            client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    for answer in (ad, profile):
        assert answer.status_code == 507, (answer.status_code, answer.text[:300])
        assert "plus de place pour enregistrer votre envoi" in answer.text
        assert "Traceback" not in answer.text
    assert alive.status_code == 200  # the server goes on serving
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SharedItem)) == 0
        assert s.get(CarpoolProfile, user_id) is None
