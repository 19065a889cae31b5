"""Reports kept offline leave from any page (every page loads the outbox; the service worker sends it
with Background Sync), and the offline page kept on a shared phone shows nobody's name."""

from __future__ import annotations

import re


def test_the_offline_page_kept_by_the_service_worker_never_shows_the_signed_in_persons_name(
    resident,
):
    page = resident.client.get("/offline")
    assert page.status_code == 200 and "Pas de réseau pour le moment" in page.text
    assert "Julie" not in page.text and 'href="/login"' in page.text
    assert "no-store" in page.headers["cache-control"]


def test_every_page_loads_the_outbox_script_that_sends_kept_reports(client, resident):
    for who, path in (
        (client, "/"),
        (resident.client, "/"),
        (resident.client, "/carpool"),
        (client, "/shops"),
    ):
        html = who.get(path).text
        (src,) = re.findall(r'<script src="(/static/js/outbox\.[^"]+)"', html)
        assert who.get(src).status_code == 200
    home = client.get("/").text
    assert home.index("js/outbox.") < home.index("</head>")


def test_the_service_worker_imports_the_outbox_and_sends_it_on_background_sync(client):
    sw = client.get("/sw.js").text
    (src,) = re.findall(r'importScripts\("(/static/js/outbox\.[^"]+)"\)', sw)
    assert (
        client.get(src).status_code == 200
        and src in sw.split("const PRECACHE = ")[1].split(";\n")[0]
    )
    assert 'addEventListener("sync"' in sw and "EclorOutbox.flush" in sw
