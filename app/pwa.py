"""The installable shell: web app manifest and service worker."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from app.i18n import current_locale
from app.i18n import gettext as _
from app.templating import STATIC, static_url
from app.territories import FALLBACK, ICON_PATH, Branding

THEME = "#0b5d3b"
BACKGROUND = "#f6f7f4"

# What the service worker keeps so the app opens, and says it is offline, without network.
SHELL_STATIC = [
    "css/eclor.css",
    "vendor/htmx-2.0.11.min.js",
    "js/eclor.js",
    "js/outbox.js",
]
# The territory's icons the service worker keeps too (app.territory_icons, at their version).
SHELL_ICONS = ("icon-192.png", "icon-512.png", "maskable-512.png")

# The notifications' icon, at the URL the service worker precaches: a push is shown without fetching
# it. The same address on every host, each host's worker keeping its own territory's icon (a push
# payload need not know the territory); the worker's cache version follows the icons' version.
NOTIFICATION_ICON = ICON_PATH + "notification.png"


def manifest(territory: Branding) -> dict[str, Any]:
    """The web app manifest of the territory the host names: its name and colours, its texts in
    the request's language (``app.i18n.current_locale``, one the territory offers)."""
    return {
        "id": "/",
        "name": f"Eclor — {territory.name}",
        "short_name": f"Eclor {territory.short_name}"[:24],
        "description": _("Signalements, covoiturage, partage, commerces et alertes du territoire."),
        "lang": current_locale.get(),
        "dir": "ltr",
        "start_url": "/?source=pwa",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": territory.colour_primary,
        "background_color": BACKGROUND,
        "categories": ["government", "utilities", "navigation"],
        "icons": [
            {
                "src": territory.icon_url("icon-192.png"),
                "sizes": "192x192",
                "type": "image/png",
                "purpose": "any",
            },
            {
                "src": territory.icon_url("icon-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "any",
            },
            {
                "src": territory.icon_url("maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
        "shortcuts": [
            {"name": _("Signaler un dépôt sauvage"), "url": "/reports/new"},
            {"name": _("Covoiturage"), "url": "/carpool"},
        ],
    }


@lru_cache(maxsize=64)
def service_worker_js(territory: Branding = FALLBACK) -> bytes:
    """The service worker of a territory's host: it keeps the shell and the territory's icons."""
    precache = (
        ["/offline"]
        + [static_url(p) for p in SHELL_STATIC]
        + [territory.icon_url(name) for name in SHELL_ICONS]
        + [NOTIFICATION_ICON]
    )
    source = (STATIC / "js" / "sw.js").read_text()
    # The precache names the icons' version, except the notification icon's: a new version makes a
    # new cache, so the unversioned icon is fetched again too.
    version = hashlib.sha256((json.dumps(precache) + source).encode()).hexdigest()[:12]
    return (
        source.replace("__CACHE_VERSION__", version)
        .replace("__PRECACHE__", json.dumps(precache))
        .replace("__OUTBOX__", json.dumps(static_url("js/outbox.js")))
        .replace("__ICON__", json.dumps(NOTIFICATION_ICON))
        .encode()
    )
