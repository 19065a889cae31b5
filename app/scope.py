"""Eclor's own keys in the ASGI scope.

``EclorMiddleware`` adds ``eclor_nonce``, ``eclor_locale``, ``eclor_user`` and
``eclor_session_token`` to every HTTP scope; the templates, the access guard and the
sign-in handlers read them. The ASGI specification lets a server or middleware add keys
to the scope; Litestar's ``Scope`` TypedDicts do not list them, so they are read and
written here, through the scope seen as the plain dictionary it is at run time.
"""

from __future__ import annotations

from typing import Any, cast

from litestar.types import Scope


def extras(scope: Scope) -> dict[str, Any]:
    """The scope as a dictionary, for Eclor's own keys (read with ``.get``, written by key)."""
    return cast("dict[str, Any]", scope)
