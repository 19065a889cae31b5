"""The route × role access table.

Each domain adds a module here (``tests/access/<domain>.py``) with ``ROWS``:
one ``Row`` per route, giving for every role the status it must answer.
``tests/test_access.py`` checks every row, and fails for any route of the
app that no row covers, so a new route without a rule fails the suite.

Roles: anonymous, resident, other_resident, merchant, other_merchant, staff, admin,
social_worker, elected. Owned objects made by ``setup`` belong to ``resident`` (or ``merchant`` for
shops), so ``other_resident`` / ``other_merchant`` show what a stranger gets. A social worker
(CCAS) is a signed-in person who owns nothing outside the solidarity transport: a row that gives
no status for ``social_worker`` expects the one of ``other_merchant`` (:func:`expected`). An elected
official reads decision support (``/staff/insights``) and is otherwise a signed-in person who owns
nothing: a row that gives no status for ``elected`` expects the social worker's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# same_for_all and roles_only give every role its status; signed_in_only gives these, and the
# social worker's is then a stranger's (:func:`expected`) unless the row says otherwise.
BASE_ROLES = (
    "anonymous",
    "resident",
    "other_resident",
    "merchant",
    "other_merchant",
    "staff",
    "admin",
)
ROLES = (*BASE_ROLES, "social_worker", "elected")


@dataclass
class AccessContext:
    """What a row's ``setup`` gets: the engine, the settings and the personas' user ids by role."""

    engine: Any
    settings: Any
    user_ids: dict[str, int]


@dataclass
class Row:
    method: str
    path: str  # a route path; {placeholders} are filled from what setup returns
    expect: dict[str, int | tuple[int, ...]]  # role -> status, or a tuple of acceptable statuses
    setup: Callable[[AccessContext], dict[str, Any]] | None = None
    data: dict[str, Any] | None = None  # form fields for unsafe methods (the CSRF token is added)
    json: Any = None
    route: str | None = (
        None  # the app's route template when it differs from ``path`` (e.g. "/reports/{report_id:int}")
    )
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def expected(row: Row) -> dict[str, int | tuple[int, ...]]:
    """The row's expected status per role, the social worker's defaulting to a stranger's
    (``other_merchant``: signed in, no commune, owns nothing the rows' setups make), the elected
    official's to the social worker's."""
    expect = dict(row.expect)
    if "social_worker" not in expect and "other_merchant" in expect:
        expect["social_worker"] = expect["other_merchant"]
    if "elected" not in expect and "social_worker" in expect:
        expect["elected"] = expect["social_worker"]
    return expect


def same_for_all(status: int | tuple[int, ...]) -> dict[str, int | tuple[int, ...]]:
    return {role: status for role in ROLES}


def signed_in_only(
    status: int | tuple[int, ...] = 200, *, anonymous: int | tuple[int, ...] = 303
) -> dict[str, int | tuple[int, ...]]:
    return {role: (anonymous if role == "anonymous" else status) for role in BASE_ROLES}


def roles_only(
    allowed: tuple[str, ...],
    status: int | tuple[int, ...] = 200,
    *,
    denied: int = 403,
    anonymous: int | tuple[int, ...] = 303,
) -> dict[str, int | tuple[int, ...]]:
    out: dict[str, int | tuple[int, ...]] = {}
    for role in ROLES:
        if role == "anonymous":
            out[role] = anonymous
        elif role in allowed:
            out[role] = status
        else:
            out[role] = denied
    return out
