"""Overload is answered, never hung: a bounded number of requests at once, the others told to come
back (503 with Retry-After); a locked database answers 503 too; the probes answer throughout."""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractContextManager

import httpx
import pytest
from sqlalchemy import text

from app.db import engine_for
from app.main import create_app
from app.settings import Settings
from tests import db_locks
from tests.live_server import live


def database_locked(settings: Settings) -> AbstractContextManager[None]:
    """Another process holds the lock that sign-in attempts need (SQLite: the write lock)."""
    return db_locks.database_locked(settings, "rate_limits")


@pytest.fixture
def tight(settings: Settings) -> Settings:
    settings.http_max_concurrency = 2
    settings.http_queue_seconds = 0.3
    settings.db_lock_timeout_ms = 1500
    settings.http_retry_after_s = 3
    return settings


async def _sign_in_attempts(base: str, n: int) -> list[tuple[int, str, float, str]]:
    limits = httpx.Limits(max_connections=n + 1, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=20, limits=limits) as c:
        page = await c.get("/login")
        token = page.cookies["csrftoken"]
        c.cookies.clear()

        async def one(i: int) -> tuple[int, str, float, str]:
            t0 = time.monotonic()
            r = await c.post(
                "/login",
                data={
                    "email": f"x{i}@eclor.test",
                    "password": "wrong-password-1",
                    "_csrf_token": token,
                },
                headers={"cookie": f"csrftoken={token}"},
            )
            return r.status_code, r.headers.get("retry-after", ""), time.monotonic() - t0, r.text

        return await asyncio.gather(*(one(i) for i in range(n)))


async def _health_during(base: str, seconds: float) -> list[tuple[int, float]]:
    seen = []
    async with httpx.AsyncClient(base_url=base, timeout=5) as c:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.monotonic()
            r = await c.get("/healthz")
            seen.append((r.status_code, time.monotonic() - t0))
            await asyncio.sleep(0.1)
    return seen


def test_a_burst_on_a_locked_database_is_answered_503_with_retry_after_and_health_stays_quick(
    tight,
):
    with live(tight) as base, database_locked(tight):

        async def scene():
            return await asyncio.gather(_sign_in_attempts(base, 8), _health_during(base, 2.5))

        answers, health = asyncio.run(scene())
    statuses = [a[0] for a in answers]
    assert statuses == [503] * 8, statuses
    assert all(a[1] == "3" for a in answers), "every 503 says when to come back"
    assert max(a[2] for a in answers) < 10, "nobody waits for the lock past its bound"
    # Two were let in and waited for the lock; the others were told sooner that the site is busy.
    refused_at_door = [a for a in answers if "très demandé" in a[3]]
    waited_for_lock = [a for a in answers if "très demandé" not in a[3]]
    assert len(refused_at_door) >= 5 and len(waited_for_lock) >= 1
    assert max(a[2] for a in refused_at_door) < min(a[2] for a in waited_for_lock)
    # The health probe kept answering while the lock was held (the event loop never waited for it).
    assert len(health) >= 3 and all(status == 200 for status, _took in health), health


def test_after_the_lock_is_released_the_site_answers_at_once(tight):
    with live(tight) as base:
        with database_locked(tight):
            asyncio.run(_sign_in_attempts(base, 4))
        r = httpx.get(base + "/reports", timeout=5)
        assert r.status_code == 200
        answers = asyncio.run(_sign_in_attempts(base, 1))
        assert (
            answers[0][0] == 400 and "très demandé" not in answers[0][3]
        )  # a wrong password, answered


def test_liveness_and_readiness_are_separate_probes(client):
    assert client.get("/livez").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    assert ready.json()["load"]["limit"] == 20  # the pool's size plus its overflow, by default


def test_readiness_says_503_when_the_database_is_gone_while_liveness_stays_200(app, settings):
    from litestar.testing import TestClient

    from app.db import make_engine

    app.state.engine = make_engine("postgresql://nobody@127.0.0.1:9/none")
    with TestClient(app) as c:
        assert c.get("/readyz").status_code == 503
        assert c.get("/livez").status_code == 200


def test_pool_size_overflow_and_timeouts_are_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("ECLOR_DB_POOL_SIZE", "4")
    monkeypatch.setenv("ECLOR_DB_MAX_OVERFLOW", "2")
    monkeypatch.setenv("ECLOR_DB_POOL_TIMEOUT_S", "1.5")
    monkeypatch.setenv("ECLOR_HTTP_QUEUE_SECONDS", "0.5")
    settings = Settings(var_dir=tmp_path)
    engine = engine_for(settings)
    try:
        assert engine.pool.size() == 4 and engine.pool._max_overflow == 2
        assert engine.pool._timeout == 1.5
    finally:
        engine.dispose()
    assert settings.max_concurrency == 6 and settings.http_queue_seconds == 0.5


def test_a_database_with_no_free_connection_answers_503_not_500(settings):
    settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout_s = 1, 0, 0.3
    engine = engine_for(settings)
    app = create_app(settings, engine)
    held = engine.connect()
    held.execute(text("SELECT 1"))
    try:
        from litestar.testing import TestClient

        with TestClient(app) as c:
            r = c.get("/reports")
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert "indisponible" in r.text
    finally:
        held.close()
        engine.dispose()
