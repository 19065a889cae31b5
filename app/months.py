"""Calendar months of a territory (in its time zone) for figures counted per month.

A month is written ``YYYY-MM``. ``bucket(column, first, last)`` labels each row
with its local month in SQL (one ``CASE`` over the months' UTC bounds, the same
on SQLite and PostgreSQL), so counts per month are exact at midnight on the
first of the month whatever the summer time, and a range condition on the
column (``within``) can use its index. Every cut takes the zone of the territory the figures
belong to (``app.territories.zone``): a report made at 23:30 on the 31st in Cayenne is of that
month in Cayenne, though already of the next one in Paris.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, literal

PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def valid(month: str) -> bool:
    return bool(PATTERN.match(month or "")) and 2000 <= int(month[:4]) <= 2100


def of(moment: dt.datetime, zone: ZoneInfo) -> str:
    """The local month of an aware (or naive UTC) moment."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone).strftime("%Y-%m")


def shift(month: str, n: int) -> str:
    """The month ``n`` months after (or before, ``n`` < 0) ``month``."""
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last``, both included."""
    out = []
    month = first
    while month <= last:
        out.append(month)
        month = shift(month, 1)
    return out


def start(month: str, zone: ZoneInfo) -> dt.datetime:
    """Midnight on the first day of the month, local time, as an aware UTC datetime."""
    return dt.datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=zone).astimezone(dt.UTC)


def bounds(first: str, last: str, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[start of ``first``, start of the month after ``last``) in UTC."""
    return start(first, zone), start(shift(last, 1), zone)


def days(month: str) -> int:
    nxt = shift(month, 1)
    return (
        dt.date(int(nxt[:4]), int(nxt[5:7]), 1) - dt.date(int(month[:4]), int(month[5:7]), 1)
    ).days


def bucket(column: Any, first: str, last: str, zone: ZoneInfo) -> Any:
    """SQL: the local month (``YYYY-MM``) of ``column``, for rows within ``bounds(first, last)``."""
    months = between(first, last)
    whens = [(column < start(shift(m, 1), zone), literal(m)) for m in months[:-1]]
    if not whens:
        return literal(months[-1])
    return case(*whens, else_=literal(months[-1]))


def within(column: Any, first: str, last: str, zone: ZoneInfo) -> tuple[Any, Any]:
    """The two conditions that keep the rows of the months ``first`` to ``last``."""
    low, high = bounds(first, last, zone)
    return column >= low, column < high
