"""The worker survives: a locked database is waited out, a loop that dies is started again (also
inside ``eclor serve --with-worker``), and ``/healthz`` tells whether the worker is alive."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import tests.job_kinds  # noqa: F401  (registers the test handlers in this process)
from app import domains, jobs
from app.db import engine_for, utcnow, write_session
from app.models.jobs import Job, WorkerHeartbeat
from app.settings import Settings
from tests import db_locks
from workers import runner


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def jobs_table_locked(settings: Settings) -> AbstractContextManager[None]:
    """Another process holds the lock the worker needs to claim (SQLite: the write lock)."""
    return db_locks.database_locked(settings, "jobs")


@contextmanager
def worker_thread(settings: Settings, worker_id: str = "survivor") -> Iterator[dict]:
    engine = engine_for(settings)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    outcome: dict = {}

    def main() -> None:
        try:
            loop.run_until_complete(
                runner.run(
                    settings,
                    engine,
                    stop=stop,
                    worker_id=worker_id,
                    install_signals=False,
                    services=False,
                )
            )
        except BaseException as exc:  # what killed the worker, for the test to see
            outcome["died"] = exc

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    outcome["thread"] = thread
    try:
        yield outcome
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=20)
        engine.dispose()


def _record_job(engine, path: Path) -> int:
    with write_session(engine) as s:
        return jobs.enqueue(s, "test.record", {"file": str(path)}).id


@pytest.fixture
def quick(settings: Settings) -> Settings:
    settings.db_lock_timeout_ms = 200
    settings.worker_poll_seconds = 0.05
    return settings


def test_the_worker_waits_out_a_locked_database_and_then_runs_its_jobs(quick, engine, tmp_path):
    out = tmp_path / "ran.txt"
    job_id = _record_job(engine, out)
    with ExitStack() as scene:
        lock = ExitStack()
        lock.enter_context(jobs_table_locked(quick))
        w = scene.enter_context(worker_thread(quick))
        time.sleep(1.5)  # several claims meet the lock and cannot take it
        assert "died" not in w and w["thread"].is_alive() and not out.exists()
        lock.close()
        assert wait_for(lambda: out.exists()), "the job ran once the lock was released"
        assert "died" not in w
    with write_session(engine) as s:
        assert s.get(Job, job_id).status == "done"


def test_a_job_whose_result_meets_a_locked_database_is_recorded_once_it_is_free(
    quick, engine, tmp_path
):
    out = tmp_path / "ran.txt"
    with write_session(engine) as s:
        job_id = jobs.enqueue(s, "test.record", {"file": str(out), "sleep": 0.3}).id
    with worker_thread(quick) as w:
        assert wait_for(lambda: _status(engine, job_id) == "running")
        with jobs_table_locked(quick):
            time.sleep(1.0)  # the job finishes meanwhile; writing "done" meets the lock
        assert wait_for(lambda: _status(engine, job_id) == "done", timeout=20)
        assert "died" not in w
    assert out.read_text().count("\n") == 1


def _status(engine, job_id: int) -> str:
    with write_session(engine) as s:
        job = s.get(Job, job_id)
        return job.status if job else ""


def test_a_claim_loop_that_dies_is_started_again_by_its_supervisor(
    quick, engine, tmp_path, monkeypatch
):
    out = tmp_path / "ran.txt"
    _record_job(engine, out)
    real_claim = runner.claim_jobs
    calls = {"n": 0}

    def claim_with_one_bug(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in the claim loop")
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(runner, "claim_jobs", claim_with_one_bug)
    with worker_thread(quick) as w:
        assert wait_for(lambda: out.exists(), timeout=20), (
            "the job ran after the loop was restarted"
        )
        assert "died" not in w
    with write_session(engine) as s:
        beats = s.scalars(select(WorkerHeartbeat)).all()
    assert beats == [], "a worker that stops cleanly removes its heartbeat"


def test_a_service_that_crashes_is_restarted(quick, engine, monkeypatch):
    started = []

    async def flaky(rt: runner.WorkerRuntime) -> None:
        started.append(time.monotonic())
        if len(started) == 1:
            raise ConnectionError("broker went away")
        await rt.stop.wait()

    monkeypatch.setattr(domains, "services", lambda: [flaky])
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def scene() -> None:
        task = asyncio.create_task(
            runner.run(quick, engine, stop=stop, worker_id="svc", install_signals=False)
        )
        for _ in range(200):
            if len(started) >= 2:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task

    loop.run_until_complete(scene())
    loop.close()
    assert len(started) >= 2


def test_serve_with_worker_keeps_a_worker_alive_after_its_loop_dies(
    quick, engine, tmp_path, monkeypatch
):
    from app.cli import start_background_services

    quick.mqtt_url = "mqtt://127.0.0.1:9"  # no embedded broker or demo fleet in this test
    out = tmp_path / "ran.txt"
    calls = {"n": 0}

    async def run_that_dies_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the worker's loop died")
        return await real_run(*args, **kwargs)

    real_run = runner.run
    monkeypatch.setattr(runner, "run", run_that_dies_once)
    monkeypatch.setattr(domains, "services", lambda: [])
    stop = start_background_services(quick)
    try:
        _record_job(engine, out)
        assert wait_for(lambda: out.exists(), timeout=120), "the restarted worker ran the job"
    finally:
        stop()
    assert calls["n"] >= 2


def test_healthz_reports_the_worker_heartbeat_and_503_when_it_went_stale(client, engine):
    assert client.get("/healthz").json()["worker"] == {"status": "none", "workers": 0}
    jobs.beat(engine, "w1")
    body = client.get("/healthz").json()
    assert body["worker"]["status"] == "ok" and body["worker"]["workers"] == 1
    with write_session(engine) as s:
        s.get(WorkerHeartbeat, "w1").beat_at = utcnow() - timedelta(minutes=5)
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json()["worker"]["status"] == "stale"


def test_a_running_worker_beats_while_it_runs(quick, engine):
    with worker_thread(quick, "beating"):
        assert wait_for(lambda: _beats(engine) == ["beating"], timeout=20)
    assert _beats(engine) == []


def _beats(engine) -> list[str]:
    with write_session(engine) as s:
        return [b.worker_id for b in s.scalars(select(WorkerHeartbeat)).all()]
