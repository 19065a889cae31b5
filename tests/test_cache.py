"""app.cache.shared: one computation for a crowd, and the replaced value served while it runs.

The anonymous home page's panels take tens of milliseconds of CPU; when they expired, every request
of a crowd computed them in its own thread at once (32 connections: over a second of CPU that the
event loop waited for, the home page's p99 at 0.9–1.1 s in bench/pages.py).
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from app import cache


@pytest.fixture(autouse=True)
def _clean():
    cache.clear()
    yield
    cache.clear()


def test_a_crowd_on_an_expired_value_computes_it_once_and_is_answered_meanwhile():
    calls: list[int] = []
    release = threading.Event()

    def compute() -> int:
        calls.append(1)
        if len(calls) > 1:
            release.wait(5)  # the refresh is slow: the crowd must not wait for it
        return len(calls)

    async def scenario() -> None:
        assert await cache.shared("k", 0.05, compute, stale_s=10) == 1
        await asyncio.sleep(0.08)  # expired
        refresher = asyncio.create_task(cache.shared("k", 0.05, compute, stale_s=10))
        await asyncio.sleep(0.05)  # the refresh is under way in its thread
        started = time.monotonic()
        crowd = await asyncio.gather(
            *(cache.shared("k", 0.05, compute, stale_s=10) for _ in range(20))
        )
        assert crowd == [1] * 20  # the replaced value, at once
        assert time.monotonic() - started < 1.0
        release.set()
        assert await refresher == 2
        assert await cache.shared("k", 60, compute, stale_s=10) == 2  # fresh again
        assert len(calls) == 2  # the crowd computed nothing

    asyncio.run(scenario())


def test_without_stale_or_after_a_drop_the_crowd_waits_for_the_one_computation():
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        time.sleep(0.1)
        return len(calls)

    async def scenario() -> None:
        assert await cache.shared(("page", 1), 0.01, compute) == 1
        await asyncio.sleep(0.03)
        got = await asyncio.gather(*(cache.shared(("page", 1), 60, compute) for _ in range(10)))
        assert got == [2] * 10 and len(calls) == 2  # waited for the one new computation
        cache.drop("page")  # a change: the old value must never be served again
        got = await asyncio.gather(
            *(cache.shared(("page", 1), 60, compute, stale_s=600) for _ in range(10))
        )
        assert got == [3] * 10 and len(calls) == 3

    asyncio.run(scenario())
