"""The worker queue: outbox semantics, exactly-once claims, leases, backoff, clean stop."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

import tests.job_kinds  # noqa: F401  (registers the test handlers in this process)
from app import jobs
from app.db import utcnow, write_session
from app.models.jobs import Job
from app.models.accounts import User
from workers import runner

ROOT = Path(__file__).resolve().parent.parent


def spawn_worker(url: str, worker_id: str, tmp_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.worker_harness",
            url,
            worker_id,
            "--var",
            str(tmp_path / "var"),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def job_row(engine, job_id: int) -> Job:
    with write_session(engine) as s:
        return s.get(Job, job_id)


def test_a_job_exists_only_if_the_change_that_needs_it_was_committed(engine):
    with pytest.raises(RuntimeError):
        with write_session(engine) as s:
            s.add(User(email="x@eclor.test"))
            jobs.enqueue(s, "mail.send", {"to": "x@eclor.test"})
            raise RuntimeError("the change fails")
    with write_session(engine) as s:
        assert s.scalars(select(Job)).all() == []
        assert s.scalars(select(User).where(User.email == "x@eclor.test")).all() == []
        s.add(User(email="y@eclor.test"))
        jobs.enqueue(s, "mail.send", {"to": "y@eclor.test"})
    with write_session(engine) as s:
        assert [j.kind for j in s.scalars(select(Job)).all()] == ["mail.send"]


def test_a_dedupe_key_schedules_a_job_only_once(engine):
    with write_session(engine) as s:
        first = jobs.enqueue(s, "mail.send", {"n": 1}, dedupe_key="welcome:42")
        second = jobs.enqueue(s, "mail.send", {"n": 2}, dedupe_key="welcome:42")
        assert first.id == second.id
    with write_session(engine) as s:
        assert len(s.scalars(select(Job)).all()) == 1


def test_two_transactions_planning_the_same_job_at_once_both_succeed_with_one_job(engine):
    """Two fan-outs adding to one person's digest plan the same job: neither fails."""
    import threading

    second: dict[str, object] = {}
    with write_session(engine) as s1:
        first = jobs.enqueue(s1, "mail.send", {"n": 1}, dedupe_key="digest:7")

        def other() -> None:
            try:
                with write_session(engine) as s2:
                    job = jobs.enqueue(s2, "mail.send", {"n": 2}, dedupe_key="digest:7")
                    second["payload"] = job.payload
            except Exception as exc:  # noqa: BLE001  (the failure is what the test looks for)
                second["error"] = repr(exc)

        racer = threading.Thread(target=other)
        racer.start()
        racer.join(0.5)  # the other transaction now waits on this one (row lock or database lock)
        first_id = first.id
    racer.join(30)
    assert not racer.is_alive()
    assert "error" not in second, second
    assert second["payload"] == '{"n":1}'  # the job that won, not a second one
    with write_session(engine) as s:
        assert [j.id for j in s.scalars(select(Job)).all()] == [first_id]


def test_two_workers_racing_over_1000_jobs_run_each_exactly_once(engine, settings, tmp_path):
    out = tmp_path / "runs.txt"
    with write_session(engine) as s:
        s.execute(
            insert(Job),
            [
                {
                    "kind": "test.record",
                    "payload": f'{{"file": "{out}", "sleep": 0.02}}',
                    "status": "queued",
                    "attempts": 0,
                    "max_attempts": 3,
                    "run_at": utcnow(),
                    "created_at": utcnow(),
                    "updated_at": utcnow(),
                }
                for _ in range(1000)
            ],
        )
    go = tmp_path / "go"
    procs = [
        spawn_worker(
            settings.resolved_database_url, f"w{i}", tmp_path, "--once", "--go-file", str(go)
        )
        for i in (1, 2)
    ]
    assert wait_for(lambda: all(Path(f"{go}.w{i}").exists() for i in (1, 2)), timeout=60)
    go.touch()  # both workers start claiming at the same moment
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err.decode()[-2000:]
    lines = out.read_text().split()
    ids = lines[0::2]
    workers = collections.Counter(lines[1::2])
    runs = collections.Counter(ids)
    assert len(runs) == 1000
    assert max(runs.values()) == 1, f"jobs run twice: {[i for i, n in runs.items() if n > 1][:10]}"
    assert set(workers) == {"w1", "w2"}, f"both workers should have taken part: {workers}"
    with write_session(engine) as s:
        states = collections.Counter(s.scalars(select(Job.status)).all())
    assert states == {"done": 1000}


def test_a_job_whose_worker_was_killed_is_picked_up_again_after_its_lease(
    engine, settings, tmp_path
):
    out = tmp_path / "runs.txt"
    with write_session(engine) as s:
        job = jobs.enqueue(
            s, "test.hang", {"file": str(out), "hang_for_worker": "doomed"}, max_attempts=3
        )
        job_id = job.id
    doomed = spawn_worker(settings.resolved_database_url, "doomed", tmp_path, "--lease", "2")
    try:
        assert wait_for(lambda: out.exists() and "started" in out.read_text(), timeout=120)
    finally:
        doomed.kill()  # SIGKILL: no chance to clean up
        doomed.wait()
    row = job_row(engine, job_id)
    assert row.status == "running" and row.locked_by == "doomed"
    # Before the lease expires, nobody may take it.
    assert jobs.claim(engine, "early-bird", lease_s=60) == []
    heir = spawn_worker(settings.resolved_database_url, "heir", tmp_path, "--lease", "2")
    try:
        assert wait_for(lambda: job_row(engine, job_id).status == "done", timeout=120)
    finally:
        heir.send_signal(signal.SIGTERM)
        heir.wait(timeout=30)
    row = job_row(engine, job_id)
    assert row.attempts == 2
    assert f"finished {job_id} heir" in out.read_text()


def test_a_failing_job_backs_off_and_ends_failed_with_its_error(engine, settings):
    with write_session(engine) as s:
        job_id = jobs.enqueue(s, "test.fail", {}, max_attempts=3).id
    delays = []
    for attempt in (1, 2, 3):
        # Make the job due now (skip the wait), then let one worker pass run it.
        with write_session(engine) as s:
            s.execute(update(Job).where(Job.id == job_id).values(run_at=utcnow()))
        before = utcnow()
        asyncio.run(runner.run(settings, engine, once=True, install_signals=False, worker_id="w"))
        row = job_row(engine, job_id)
        assert row.attempts == attempt
        assert f"boom on attempt {attempt}" in (row.last_error or "")
        if attempt < 3:
            assert row.status == "queued"
            delays.append((row.run_at - before).total_seconds())
        else:
            assert row.status == "failed" and row.finished_at is not None
    nominal = [jobs.BACKOFF_BASE_S, jobs.BACKOFF_BASE_S * 2]
    for delay, base in zip(delays, nominal):
        assert 0.5 * base - 1 <= delay <= 1.5 * base + 1, (delays, nominal)


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    import random

    rng = random.Random(1)
    samples = {n: [jobs.backoff_seconds(n, rng=rng) for _ in range(200)] for n in (1, 2, 3, 20)}
    for n in (1, 2, 3):
        nominal = jobs.BACKOFF_BASE_S * 2 ** (n - 1)
        assert min(samples[n]) >= 0.5 * nominal and max(samples[n]) < 1.5 * nominal
        assert len(set(samples[n])) > 100  # jittered, not a fixed delay
    assert max(samples[20]) < 1.5 * jobs.BACKOFF_MAX_S


def test_a_job_whose_worker_died_on_its_last_attempt_ends_failed(engine):
    with write_session(engine) as s:
        job_id = jobs.enqueue(s, "test.record", {"file": "/dev/null"}, max_attempts=1).id
    assert [j.id for j in jobs.claim(engine, "dead", lease_s=60)] == [job_id]
    with write_session(engine) as s:
        s.execute(
            update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1))
        )
    assert jobs.claim(engine, "next", lease_s=60) == []
    row = job_row(engine, job_id)
    assert row.status == "failed" and "lease expired" in (row.last_error or "")


def test_a_worker_that_lost_its_lease_cannot_overwrite_the_new_owner(engine):
    with write_session(engine) as s:
        job_id = jobs.enqueue(s, "test.record", {"file": "/dev/null"}).id
    [old] = jobs.claim(engine, "old", lease_s=60)
    with write_session(engine) as s:
        s.execute(
            update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1))
        )
    [new] = jobs.claim(engine, "new", lease_s=60)
    assert jobs.complete(engine, old, "old") is False
    assert jobs.fail(engine, old, "old", "late error") == "lost"
    assert job_row(engine, job_id).locked_by == "new"
    assert jobs.complete(engine, new, "new") is True
    assert job_row(engine, job_id).status == "done"


def test_sigterm_stops_the_worker_cleanly_after_its_current_job(engine, settings, tmp_path):
    out = tmp_path / "runs.txt"
    with write_session(engine) as s:
        job_id = jobs.enqueue(s, "test.record", {"file": str(out), "sleep": 1.5}).id
    proc = spawn_worker(settings.resolved_database_url, "w", tmp_path)
    assert wait_for(lambda: job_row(engine, job_id).status == "running", timeout=120)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"worker stopped" in err
    assert job_row(engine, job_id).status == "done"
    assert out.read_text().split()[0] == str(job_id)


def test_worker_once_drains_due_jobs_and_leaves_future_ones(engine, settings, tmp_path):
    out = tmp_path / "runs.txt"
    with write_session(engine) as s:
        for _ in range(5):
            jobs.enqueue(s, "test.record", {"file": str(out)})
        later = jobs.enqueue(
            s, "test.record", {"file": str(out)}, run_at=utcnow() + timedelta(hours=1)
        ).id
    ran = asyncio.run(runner.run(settings, engine, once=True, install_signals=False))
    assert ran == 5
    assert len(out.read_text().splitlines()) == 5
    assert job_row(engine, later).status == "queued"


def test_an_unknown_job_kind_is_recorded_as_an_error_not_a_crash(engine, settings):
    with write_session(engine) as s:
        job_id = jobs.enqueue(s, "no.such.kind", {}, max_attempts=1).id
    asyncio.run(runner.run(settings, engine, once=True, install_signals=False))
    row = job_row(engine, job_id)
    assert row.status == "failed" and "no handler" in (row.last_error or "")


def test_mail_jobs_write_messages_under_var_mail_without_smtp(engine, settings):
    from app.mail import send_mail

    with write_session(engine) as s:
        send_mail(
            s, "julie@eclor.test", "Votre signalement", "Merci, il est bien reçu.", "<p>Merci</p>"
        )
    asyncio.run(runner.run(settings, engine, once=True, install_signals=False))
    files = list(settings.mail_dir.glob("*.eml"))
    assert len(files) == 1
    raw = files[0].read_text()
    assert "To: julie@eclor.test" in raw and "Content-Type: text/html" in raw
    assert os.stat(files[0]).st_size > 0
