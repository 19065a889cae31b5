"""Access rules of decision support: staff and administrators only; residents, merchants and visitors get nothing."""

from __future__ import annotations

from tests.access import Row, roles_only

STAFF = ("staff", "admin")
PAGE = roles_only(STAFF, 200)
DATA = roles_only(STAFF, 200, anonymous=(303, 401))

ROWS = [
    Row("GET", "/staff/insights", PAGE),
    Row("GET", "/staff/insights/summary", PAGE),
    Row("GET", "/staff/insights/summary.pdf", DATA),
    Row("GET", "/staff/insights/od.json", DATA),
    Row("GET", "/staff/insights/od.csv", DATA),
    Row("GET", "/staff/insights/mobility", PAGE, route="/staff/insights/{theme:str}"),
    Row(
        "GET",
        "/staff/insights/energy/figures.csv",
        DATA,
        route="/staff/insights/{theme:str}/figures.csv",
    ),
    Row(
        "GET",
        "/staff/insights/air/figures.json",
        DATA,
        route="/staff/insights/{theme:str}/figures.json",
    ),
]
ROWS += [
    Row("GET", "/staff/insights/foresight", PAGE),
    Row("GET", "/staff/insights/foresight.csv", DATA),
]
