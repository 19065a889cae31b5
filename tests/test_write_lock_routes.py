"""Write transactions are short everywhere: every writing route of the route × role table and the
jobs it queues hold the write lock less than a bound.

Each unsafe row of tests/access/*.py (POST, PUT, PATCH, DELETE, with its real ids) is requested
once per role on a fresh database, then the worker runs the jobs those requests queued; every
write transaction opened meanwhile is timed from the moment it holds the lock to its COMMIT or
ROLLBACK (tests.write_locks). That is the time another writer waits for it, whatever the request
around it did before (checking a form, re-encoding photos) or after (rendering a page).
"""

from __future__ import annotations

import asyncio

import pytest

from tests.access import AccessContext
from tests.conftest import EclorClient
from tests.test_access import (  # noqa: F401  (access_env is the fixture of one app for all rows)
    ENTRIES,
    AccessEnv,
    Entry,
    _fill,
    _persona_sessions,
    access_env,
    requests_by_role,
)
from tests.write_locks import Held, WriteLocks
from workers import runner

# The longest write transaction of a route is a few inserts and updates and a commit: tens of
# milliseconds on a loaded machine. Re-encoding one photo takes several hundred, so a writer that
# processed an image (or slept, or called out) inside its transaction is well over this bound.
LOCK_BOUND_S = 0.25

WRITERS = [e for e in ENTRIES if e.row.method.upper() not in ("GET", "HEAD", "OPTIONS")]


def describe(found: list[tuple[str, Held]]) -> str:
    worst = sorted(found, key=lambda f: f[1].seconds, reverse=True)[:5]
    return "\n".join(
        f"- {who}: {h.seconds * 1000:.0f} ms, from {h.first_statement}" for who, h in worst
    )


@pytest.mark.parametrize("entry", WRITERS, ids=[e.id for e in WRITERS])
def test_a_writing_route_and_its_jobs_hold_the_write_lock_briefly(
    entry: Entry,
    access_env: AccessEnv,  # noqa: F811  (the fixture imported above)
):
    row = entry.row
    access_env.reset()
    app, engine, settings = access_env.app, access_env.engine, access_env.settings
    user_ids, tokens = _persona_sessions(engine, settings)
    values = row.setup(AccessContext(engine, settings, dict(user_ids))) if row.setup else {}
    url = _fill(row.path, values or {})
    found: list[tuple[str, Held]] = []
    with WriteLocks(engine) as locks:
        with EclorClient(app=app) as client:
            for role, _response in requests_by_role(client, row, url, tokens, settings):
                found += [(role, held) for held in locks.transactions]
                locks.clear()
        asyncio.run(runner.run(settings, engine, once=True, services=False, install_signals=False))
        found += [("worker", held) for held in locks.transactions]
    longest = max((held.seconds for _who, held in found), default=0.0)
    assert longest < LOCK_BOUND_S, (
        f"{entry.id} ({url}) held the write lock {longest * 1000:.0f} ms "
        f"(bound {LOCK_BOUND_S * 1000:.0f} ms):\n{describe(found)}"
    )
