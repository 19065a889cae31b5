"""Nothing slow inside a write transaction: photos are checked, re-encoded and written to disk
before the write lock is taken, so an upload of large photos holds the lock for its writes only.

Each write transaction (``BEGIN IMMEDIATE`` on SQLite, a writing transaction on PostgreSQL) is
timed with SQLAlchemy events on the app's engine (tests.write_locks), from the moment the lock is
obtained to its COMMIT or ROLLBACK, while real, large PNGs made with Pillow are uploaded through the real routes.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app import images
from app.db import read_session
from app.models.carpool import CarpoolProfile
from app.models.sharing import SharedPhoto
from app.models.shops import Product, Shop, ShopPhoto
from tests.write_locks import WriteLocks

# The lock is held for a few inserts and a commit: well under this even on a loaded machine,
# while re-encoding the photos below takes several times longer (checked by each test).
LOCK_BOUND_S = 0.3


def large_png(seed: int, size: tuple[int, int] = (4000, 3000)) -> bytes:
    """A real 12-megapixel PNG (gradients and a seeded coarse noise), about 1 MB: slow to decode."""
    width, height = size
    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise((width // 8, height // 8), 60 + seed)
    blue = noise.resize(size, Image.Resampling.NEAREST)
    buf = io.BytesIO()
    Image.merge("RGB", (gradient, gradient.rotate(90 + seed), blue)).save(
        buf, "PNG", compress_level=1
    )
    return buf.getvalue()


@pytest.fixture
def locks(engine: Engine) -> Iterator[WriteLocks]:
    with WriteLocks(engine) as recorder:
        yield recorder


def processing_time(photos: list[bytes], **kwargs: int) -> float:
    started = time.perf_counter()
    for data in photos:
        images.process(data, **kwargs)
    return time.perf_counter() - started


def assert_short(locks: WriteLocks, slow_part_s: float) -> None:
    # The test means something only if the photos take a while to process (a quiet, fast machine
    # does the profile's 30-megapixel photo at its small sizes in about 0.18 s): the lock must then
    # be held for under half of that, and under the bound, which it could not be if the processing
    # ran inside it (it would hold the lock for all of the processing, twice the bound).
    assert slow_part_s > 0.1, f"photos processed in {slow_part_s:.2f} s: too fast to tell"
    bound = min(LOCK_BOUND_S, slow_part_s / 2)
    assert locks.held, "no write transaction was recorded"
    longest = max(locks.held)
    assert longest < bound, (
        f"a write transaction held the lock {longest:.2f} s "
        f"(processing the photos alone takes {slow_part_s:.2f} s)"
    )


def test_four_large_photos_on_a_sharing_ad_hold_the_write_lock_only_for_the_writes(
    engine, resident, locks
):
    photos = [large_png(seed) for seed in range(4)]
    slow = processing_time(photos)
    c = resident.client
    token = c.csrf_token()
    locks.clear()
    response = c.post(
        "/sharing/items",
        data={
            "_csrf_token": token,
            "kind": "lend",
            "title": "Perceuse à percussion",
            "category": "tools",
            "condition": "good",
            "commune_insee": "54580",
        },
        files=[("photos", (f"p{i}.png", data, "image/png")) for i, data in enumerate(photos)],
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SharedPhoto)) == 4
    assert_short(locks, slow)


def test_shop_and_product_photos_hold_the_write_lock_only_for_the_writes(engine, merchant, locks):
    c = merchant.client
    token = c.csrf_token()
    shop_photos = [large_png(10), large_png(11)]
    slow = processing_time(shop_photos) / 2  # one photo a request
    locks.clear()
    response = c.post(
        "/shops/manage/shop/save",
        data={
            "_csrf_token": token,
            "name": "Épicerie de Thil",
            "category": "grocery",
            "address": "2 Grand'Rue",
            "commune_insee": "54523",
            "click_collect": "true",
        },
        files={"photo": ("s.png", shop_photos[0], "image/png")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    response = c.post(
        "/shops/manage/products",
        data={"_csrf_token": token, "name": "Mirabelles", "price": "6,50", "stock": "20"},
        files={"photo": ("m.png", shop_photos[1], "image/png")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    with read_session(engine) as s:
        product = s.scalars(select(Product)).one()
        assert s.scalar(select(func.count()).select_from(ShopPhoto)) == 1 and product.thumb_name
    assert_short(locks, slow)
    locks.clear()
    response = c.post(
        f"/shops/manage/products/{product.id}/photo",
        data={"_csrf_token": token},
        files={"photo": ("n.png", large_png(12), "image/png")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    with read_session(engine) as s:
        assert s.get(Product, product.id).thumb_name != product.thumb_name
    assert_short(locks, slow)


def test_a_carpool_profile_photo_holds_the_write_lock_only_for_the_writes(engine, resident, locks):
    photo = large_png(20, size=(6000, 5000))
    # The profile keeps a small photo, so its processing is timed at the profile's sizes.
    slow = processing_time([photo], display_size=512, thumb_size=160)
    c = resident.client
    token = c.csrf_token()
    locks.clear()
    response = c.post(
        "/carpool/profile",
        data={"_csrf_token": token, "first_name": "Julie", "phone": "", "about": ""},
        files={"photo": ("me.png", photo, "image/png")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    with read_session(engine) as s:
        assert s.get(CarpoolProfile, resident.id).photo_name
    assert_short(locks, slow)


def test_a_form_refused_under_the_lock_removes_the_photo_files_written_before_it(
    engine, merchant, locks, settings
):
    c = merchant.client
    photo = large_png(30)
    slow = processing_time([photo])
    locks.clear()
    # The commune passes the form's checks but not the database's: the photo was already written.
    response = c.post(
        "/shops/manage/shop/save",
        data={
            "_csrf_token": c.csrf_token(),
            "name": "Épicerie de Thil",
            "category": "grocery",
            "address": "2 Grand'Rue",
            "commune_insee": "99999",
        },
        files={"photo": ("s.png", photo, "image/png")},
        follow_redirects=False,
    )
    assert response.status_code == 400 and "commune du territoire" in response.text
    with read_session(engine) as s:
        assert s.scalars(select(Shop)).first() is None
    photos_dir = settings.resolved_media_dir / "photos"
    assert not photos_dir.exists() or not [p for p in photos_dir.rglob("*") if p.is_file()]
    assert_short(locks, slow)
