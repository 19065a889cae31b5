"""Error pages: a clear French message, the protocol's own format on APIs, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotFoundException
from litestar.handlers import BaseRouteHandler
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.plugins.htmx import HTMXDetails

from app.i18n import gettext as _
from app.templating import page

log = logging.getLogger("eclor.errors")

API_PREFIXES = ("/open311/", "/api/", "/ngsi-ld/", "/push/", "/healthz", "/schema")

# Protocols with their own error format (e.g. Open311): path prefix -> fn(request, status, message).
ERROR_RENDERERS: dict[str, Callable[[Request[Any, Any, Any], int, str], Response[Any]]] = {}

TITLES = {
    400: "Demande incorrecte",
    401: "Connexion nécessaire",
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Méthode non autorisée",
    413: "Envoi trop volumineux",
    429: "Trop de demandes",
    500: "Erreur du serveur",
    503: "Service indisponible",
    507: "Espace de stockage plein",
}
MESSAGES = {
    400: "La demande n'a pas pu être comprise. Vérifiez ce que vous avez saisi.",
    401: "Connectez-vous pour continuer.",
    403: "Vous n'avez pas accès à cette page, ou le formulaire a expiré : rechargez la page et réessayez.",
    404: "Cette page n'existe pas ou n'existe plus.",
    405: "Cette action n'est pas possible ici.",
    413: "Le fichier ou le formulaire envoyé est trop volumineux.",
    429: "Vous avez fait trop de demandes en peu de temps. Patientez un peu puis réessayez.",
    500: "Une erreur inattendue s'est produite. L'équipe technique a été prévenue.",
    503: "Le service est momentanément indisponible. Réessayez dans quelques instants.",
    507: "Le serveur n'a plus de place pour enregistrer votre envoi. Rien n'a été enregistré : "
    "réessayez plus tard, l'équipe technique a été prévenue.",
}


def saturation_status(exc: BaseException) -> int | None:
    """503 when the database is saturated (no pool connection in time, lock not obtained),
    507 when the disk is full; None for any other error."""
    import errno

    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, PoolTimeout):
        return 503
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower()
        if (
            "database is locked" in text
            or "database table is locked" in text
            or "lock timeout" in text
            or "too many connections" in text
            or "canceling statement due to statement timeout" in text
        ):
            return 503
        if "database or disk is full" in text or "no space left" in text:
            return 507
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return 507
    return None


def _is_api(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    return path.startswith(API_PREFIXES) or path.endswith((".json", ".xml"))


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, HTTPException):
        status = exc.status_code
        detail = exc.detail if exc.detail and exc.detail != TITLES.get(status) else ""
        headers = dict(exc.headers or {})
    elif (saturated := saturation_status(exc)) is not None:
        status = saturated
        detail = ""
        headers = (
            {"Retry-After": str(request.app.state.settings.http_retry_after_s)}
            if status == 503
            else {}
        )
        log.warning(
            "saturated",
            extra={"path": request.url.path, "status": status, "error": type(exc).__name__},
        )
    else:
        status = HTTP_500_INTERNAL_SERVER_ERROR
        detail = ""
        headers = {}
        log.error(
            "unhandled error",
            exc_info=exc,
            extra={"path": request.url.path, "method": request.method},
        )
    if status >= 500 and isinstance(exc, HTTPException):
        log.error(
            "server error",
            extra={"path": request.url.path, "status": status, "detail": str(exc.detail)},
        )
    message = _(MESSAGES.get(status, MESSAGES[400]))
    # Only messages written for people (French, from Eclor's code) are shown; framework details are not.
    if detail and status < 500 and _looks_human(detail):
        message = _(detail)
    for prefix, render in ERROR_RENDERERS.items():
        if request.url.path.startswith(prefix):
            return render(request, status, message)
    if _is_api(request):
        return Response(
            {"status_code": status, "detail": message},
            status_code=status,
            media_type=MediaType.JSON,
            headers=headers,
        )
    if status == 401 and request.method == "GET" and not HTMXDetails(request):
        return Redirect(f"/login?next={quote(request.url.path)}", status_code=303)
    template: Template = page(
        request,
        "errors/error.html",
        status_code=status,
        headers=headers,
        status=status,
        title=_(TITLES.get(status, TITLES[400])),
        message=message,
    )
    return template


def _looks_human(detail: str) -> bool:
    return any(ch in detail for ch in "éèàçêâôùî") or detail.endswith((".", "!"))


# The largest id a database row can have (a signed 64-bit integer, on SQLite and PostgreSQL alike).
LARGEST_ID = 2**63 - 1


async def ids_in_range(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A whole-number path parameter no row can have is a page that does not exist (404), never a
    database error: ``/reports/99999999999999999999`` is answered like ``/reports/0``."""
    for value in connection.path_params.values():
        if isinstance(value, int) and not -LARGEST_ID - 1 <= value <= LARGEST_ID:
            raise NotFoundException()
