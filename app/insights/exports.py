"""The decision-support figures as CSV and JSON, with the same values (and hidden cells) as the pages."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.csvsafe import csv_cell


def as_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else csv_cell(row.get(c)) for c in columns])
    return out.getvalue()


FIGURE_COLUMNS = (
    "figure",
    "month",
    "commune_insee",
    "commune",
    "value",
    "unit",
    "same_month_last_year",
    "change_pct",
    "last_12_months",
    "previous_12_months",
    "change_12_pct",
    "per_1000_residents",
    "euros",
    "t_co2e",
    "hidden",
)
OD_COLUMNS = (
    "from_code",
    "from_name",
    "from_country",
    "to_code",
    "to_name",
    "to_country",
    "trips",
    "proofs",
    "offers",
    "requests",
    "unmet_requests",
)
