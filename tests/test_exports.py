"""Large exports stream: the staff CSV of reports is read in chunks and sent as it is written, memory flat."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys

from app.db import utcnow, write_session
from app.models.reports import Report
from app.reports import exports


def _add_reports(engine, count: int, start: int = 0) -> None:
    now = utcnow()
    rows = [
        {
            "category": "bulky_items",
            "status": "new" if i % 3 else "resolved",
            "description": f"Dépôt sauvage numéro {start + i}, " + "matelas et cartons " * 4,
            "lat": 49.47 + (i % 1000) / 100_000,
            "lon": 5.95,
            "approximate": False,
            "address": "Rue du Stade",
            "commune_insee": "57038",
            "source": "web",
            "witnessed": False,
            "status_notes": "",
            "thanks_count": 0,
            "created_at": now - dt.timedelta(minutes=i),
            "updated_at": now,
        }
        for i in range(count)
    ]
    with write_session(engine) as session:
        for part in range(0, len(rows), 5000):
            session.execute(Report.__table__.insert(), rows[part : part + 5000])
    if (
        engine.dialect.name == "sqlite"
    ):  # as SQLite does by itself over time: the export reads the database file
        engine.dispose()
        with engine.connect() as conn:
            busy, _log, _done = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        assert busy == 0


_EXPORT = """
import re, sys
from app.reports import catalogue, exports
from app.db import make_engine
engine = make_engine(sys.argv[1])
sent = lines = 0
for chunk in exports.export_csv(engine, catalogue.Filters.parse({}, staff=True)):
    sent += len(chunk)
    lines += chunk.count(b"\\n")
# VmHWM: this process's own peak resident memory (ru_maxrss would carry the parent's over exec)
peak = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)
print(peak, lines - 1, sent)
"""


def _peak_while_exporting(url: str) -> tuple[int, int, int]:
    """(peak resident memory in KiB of a process that consumes the whole export, rows, bytes)."""
    done = subprocess.run(
        [sys.executable, "-c", _EXPORT, url],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    peak, rows, sent = (int(v) for v in done.stdout.split()[-3:])
    return peak, rows, sent


def test_the_reports_csv_keeps_memory_flat_from_10000_to_100000_rows(engine, settings):
    url = settings.resolved_database_url
    _add_reports(engine, 10_000)
    small_peak, small_rows, small_bytes = _peak_while_exporting(url)
    _add_reports(engine, 90_000, start=10_000)
    large_peak, large_rows, large_bytes = _peak_while_exporting(url)

    assert (small_rows, large_rows) == (10_000, 100_000)
    assert large_bytes > 9 * small_bytes  # ten times the rows (about 20 MB) went out...
    assert large_peak - small_peak < 4 * 1024, (
        small_peak,
        large_peak,
    )  # ...through the same memory (KiB)


def test_the_staff_csv_answers_in_chunks_with_every_report_once(engine, staff):
    _add_reports(engine, 2_500)
    # Without gzip (which holds at most 4 MB to compress small bodies), the CSV goes out as it is read.
    with staff.client.stream(
        "GET", "/staff/reports.csv?status=new", headers={"accept-encoding": "identity"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "content-length" not in response.headers  # streamed, not built in memory first
        chunks = list(response.iter_raw())
    body = b"".join(chunks).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert rows[0] == [heading for heading, _key in exports.CSV_COLUMNS]  # French headings
    numbers = [row[0] for row in rows[1:]]
    assert (
        len(numbers) == len(set(numbers)) == sum(1 for i in range(2_500) if i % 3)
    )  # the filter holds
    status = [key for _heading, key in exports.CSV_COLUMNS].index("status")
    assert {row[status] for row in rows[1:]} == {"new"}
