"""Orphan photo files (written, then nothing committed: a crash) are swept by the worker.

Photos are written before the transaction that records them; a crash in between used to
leave files forever. The sweep removes files no row names once past a grace period, and
never a file some domain's row names.
"""

from __future__ import annotations

import io
import os
import time

from PIL import Image
from sqlalchemy import select
from sqlmodel import SQLModel

import app.models  # noqa: F401  (every table on the metadata)
from app import domains, images, photo_store, photo_sweep
from app.db import read_session
from app.models.sharing import SharedPhoto


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 160, 90)).save(buf, "JPEG")
    return buf.getvalue()


def files(media_dir) -> set[str]:
    return {p.name for p in (media_dir / "photos").rglob("*") if p.is_file()}


def age(media_dir, names: set[str], hours: float) -> None:
    then = time.time() - hours * 3600
    for path in (media_dir / "photos").rglob("*"):
        if path.name in names:
            os.utime(path, (then, then))


def test_the_worker_sweep_removes_old_orphans_and_keeps_named_and_young_files(
    engine, resident, settings
):
    media = settings.resolved_media_dir
    c = resident.client
    r = c.post(
        "/sharing/items",
        data={
            "_csrf_token": c.csrf_token(),
            "kind": "give",
            "title": "Table de jardin",
            "category": "garden",
            "condition": "good",
            "commune_insee": "54580",
        },
        files={"photos": ("t.jpg", jpeg(), "image/jpeg")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    with read_session(engine) as s:
        photo = s.scalars(select(SharedPhoto)).one()
    live = {photo.display_name, photo.thumb_name}
    # A crash between writing and committing: files that no row will ever name.
    processed = images.process(jpeg())
    old_orphan = photo_store.save(processed, media)
    young_orphan = photo_store.save(processed, media)
    old_names = {old_orphan.display_name, old_orphan.thumb_name}
    young_names = {young_orphan.display_name, young_orphan.thumb_name}
    leftover_tmp = media / "photos" / "ab" / ".0123456789abcdef.tmp"
    leftover_tmp.parent.mkdir(parents=True, exist_ok=True)
    leftover_tmp.write_bytes(b"half a photo")
    age(media, live | old_names | {leftover_tmp.name}, hours=48)
    assert files(media) == live | old_names | young_names | {leftover_tmp.name}

    assert photo_sweep.sweep_service in domains.services()  # the worker runs it
    removed = photo_sweep.run(engine, media, grace_hours=settings.photo_orphan_grace_hours)

    assert removed == 3
    assert files(media) == live | young_names
    assert c.get(f"/sharing/photos/{photo.display_name}").status_code == 200
    # Past the grace period, the young orphans go too; the named ones never do.
    later = time.time() + 25 * 3600
    assert photo_sweep.run(engine, media, grace_hours=24, now=later) == 2
    assert files(media) == live


def test_every_table_that_keeps_photos_is_declared_to_the_sweep():
    """A table with photo names the sweep does not know would lose its files: refuse that."""
    declared = {
        (column.table.name, column.name)
        for named in photo_sweep._OWNERS
        for column in (c.property.columns[0] for c in named.columns)
    }
    photo_columns = {
        (table.name, column.name)
        for table in SQLModel.metadata.tables.values()
        if "thumb_name" in table.columns
        for column in table.columns
        if column.name in ("display_name", "thumb_name", "photo_name")
    }
    assert photo_columns and photo_columns <= declared, photo_columns - declared
