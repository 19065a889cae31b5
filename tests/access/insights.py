"""Access rules of decision support: staff, administrators and elected officials read it all; only staff
and administrators import a baseline; residents, merchants, social workers and visitors get nothing."""

from __future__ import annotations

from tests.access import Row, roles_only

STAFF = ("staff", "admin")
READERS = (*STAFF, "elected")
PAGE = roles_only(READERS, 200)
DATA = roles_only(READERS, 200, anonymous=(303, 401))

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
ROWS += [
    Row("GET", "/staff/insights/energy/baseline", PAGE),
    Row("GET", "/staff/insights/energy/baseline.csv", DATA),
    # no file: staff get the page again with a French message (400); nothing written
    Row("POST", "/staff/insights/energy/baseline", roles_only(STAFF, 400, anonymous=401), data={}),
]
