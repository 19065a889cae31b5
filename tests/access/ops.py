"""Access rules of the operations centre: staff only; residents and anonymous visitors get nothing."""

from __future__ import annotations

from tests.access import Row, roles_only

STAFF = ("staff", "admin")


def staff_only(status: int | tuple[int, ...] = 200) -> dict[str, int | tuple[int, ...]]:
    return roles_only(STAFF, status)


ROWS = [
    # A staff stream never ends: the row asks with a malformed resume id, which staff get a 400 for.
    Row("GET", "/staff/ops/stream?since=hier", staff_only(400), route="/staff/ops/stream"),
]
