"""Each territory's icons are drawn from its colours and short name: the manifest, the page's
icons, the service worker's precache and the notifications' icon are the host's territory's."""

from __future__ import annotations

import json
from io import BytesIO

from PIL import Image
from sqlmodel import col, select

from app.db import write_session
from app.models.territory import Territory
from app.pwa import NOTIFICATION_ICON
from tests.test_territories import ESCH, add_minett

HOSTS = {"pays-haut": {}, "minett": ESCH}
PRIMARY = {"pays-haut": (0x0B, 0x5D, 0x3B), "minett": (0x1D, 0x4F, 0x91)}


def _png(response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = Image.open(BytesIO(response.content))
    image.verify()  # a complete, valid PNG
    return Image.open(BytesIO(response.content))


def _precache(body: str) -> list[str]:
    return json.loads(body.split("const PRECACHE = ")[1].split(";\n")[0])


def test_each_host_s_manifest_names_its_own_icons_in_its_colours_at_their_sizes(engine, client):
    add_minett(engine)
    seen: dict[str, dict[str, bytes]] = {}
    for name, headers in HOSTS.items():
        manifest = client.get("/manifest.webmanifest", headers=headers).json()
        for key in ("name", "short_name", "id", "start_url", "scope", "theme_color"):
            assert manifest[key], key
        purposes = {(i["sizes"], i["purpose"]) for i in manifest["icons"]}
        assert purposes == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
        seen[name] = {}
        for entry in manifest["icons"]:
            assert entry["type"] == "image/png" and entry["src"].startswith("/territory-icons/")
            response = client.get(entry["src"], headers=headers)
            image = _png(response)
            side = int(entry["sizes"].split("x")[0])
            assert image.size == (side, side)
            # A maskable icon fills its square; the others are the territory's colour inside.
            corner = (0, 0) if entry["purpose"] == "maskable" else (side // 20, side // 2)
            assert image.convert("RGB").getpixel(corner) == PRIMARY[name]
            seen[name][entry["src"].split("?")[0]] = response.content
    assert seen["pays-haut"].keys() == seen["minett"].keys()
    for path, data in seen["pays-haut"].items():
        assert data != seen["minett"][path], path


def test_the_page_links_the_territory_s_favicon_and_home_screen_icon(engine, client):
    add_minett(engine)
    links = {}
    for name, headers in HOSTS.items():
        page = client.get("/", headers=headers).text
        favicon = page.split('<link rel="icon" type="image/png" sizes="32x32" href="')[1]
        favicon = favicon.split('"')[0]
        touch = page.split('<link rel="apple-touch-icon" href="')[1].split('"')[0]
        assert _png(client.get(favicon, headers=headers)).size == (32, 32)
        assert _png(client.get(touch, headers=headers)).size == (180, 180)
        links[name] = (favicon, touch)
    # The versions differ: a browser that knows one territory's icon does not reuse it for the other.
    assert links["pays-haut"][0] != links["minett"][0]
    assert links["pays-haut"][1] != links["minett"][1]


def test_an_icon_at_its_version_is_kept_a_year_and_otherwise_revalidated_by_its_etag(
    engine, client
):
    add_minett(engine)
    src = client.get("/manifest.webmanifest", headers=ESCH).json()["icons"][0]["src"]
    kept = client.get(src, headers=ESCH)
    assert kept.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = client.get(NOTIFICATION_ICON, headers=ESCH)
    assert plain.headers["cache-control"] == "no-cache" and plain.headers["etag"]
    again = client.get(NOTIFICATION_ICON, headers={**ESCH, "if-none-match": plain.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/territory-icons/other.png", headers=ESCH).status_code == 404

    # New colours are new icons at a new address; the old version is no longer kept a year.
    with write_session(engine) as session:
        row = session.scalars(select(Territory).where(col(Territory.slug) == "minett")).one()
        row.colour_primary = "#7a1f5c"
    from app.territories import changed

    changed()
    newer = client.get("/manifest.webmanifest", headers=ESCH).json()["icons"][0]["src"]
    assert newer != src
    image = _png(client.get(newer, headers=ESCH)).convert("RGB")
    assert image.getpixel((8, 96)) == (0x7A, 0x1F, 0x5C)
    assert client.get(src, headers=ESCH).headers["cache-control"] == "no-cache"
    stale = client.get(NOTIFICATION_ICON, headers={**ESCH, "if-none-match": plain.headers["etag"]})
    assert stale.status_code == 200 and stale.content != plain.content


def test_each_host_s_service_worker_precaches_its_territory_s_icons_and_notification_icon(
    engine, client
):
    add_minett(engine)
    workers = {}
    for name, headers in HOSTS.items():
        body = client.get("/sw.js", headers=headers).text
        precache = _precache(body)
        manifest = client.get("/manifest.webmanifest", headers=headers).json()
        assert {i["src"] for i in manifest["icons"]} <= set(precache)
        # The push payload names this address; the worker shows it from its cache.
        assert NOTIFICATION_ICON in precache
        assert f"const ICON = {json.dumps(NOTIFICATION_ICON)};" in body
        for url in precache:
            assert client.get(url, headers=headers).status_code == 200, url
        workers[name] = body
    version = {n: b.split('"eclor-shell-')[1].split('"')[0] for n, b in workers.items()}
    assert version["pays-haut"] != version["minett"]
    icons = {n: client.get(NOTIFICATION_ICON, headers=h).content for n, h in HOSTS.items()}
    assert icons["pays-haut"] != icons["minett"]
    assert _png(client.get(NOTIFICATION_ICON, headers=ESCH)).size == (192, 192)
