"""What the per-territory sweeps share: the routes of a domain, read from the app's route table (so
a route added later is swept too, or fails the sweep for want of a sample)."""

from __future__ import annotations

from typing import Any


def domain_routes(
    app: Any, prefixes: str | tuple[str, ...], methods: tuple[str, ...] = ("GET", "POST")
) -> list[tuple[str, str]]:
    """(method, path) of every route of ``methods`` whose path starts with one of ``prefixes``."""
    out = []
    for route in app.routes:
        if not route.path.startswith(prefixes):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods or ():
                if method in methods:
                    out.append((method, route.path))
    return sorted(set(out))


def get_paths(app: Any, prefixes: str | tuple[str, ...]) -> list[str]:
    """The paths of every GET route whose path starts with one of ``prefixes``."""
    return [path for _method, path in domain_routes(app, prefixes, ("GET",))]


def refused(answer: Any) -> bool:
    """Not found, forbidden, or (anonymous) sent to sign in: what another territory's row gets."""
    if answer.status_code == 303:
        return answer.headers["location"].startswith("/login")
    return answer.status_code in (401, 403, 404)
