"""Participatory budget: 5,000 votes cast over HTTP in one minute, none lost, none doubled.

Runs ``eclor serve`` on its defaults (one process) against SQLite and, with ``--pg``, against
PostgreSQL with the production topology of the README (``--workers 2``; ``--pg-workers``). A territory-wide budget in its vote phase has six projects; 4,000 residents vote with
a one-time code (no account) and 1,000 signed-in residents vote with their session (each opens
the budget page first, as a browser would, for its CSRF token). The 5,000 votes arrive at an even
pace over ``--seconds`` (60) whatever the answers take (open loop); on top of them, 250 of the
voters submit their vote a second time at the same moment as the first (a double click, a code
typed twice), which must be refused.

Then, in the same run, the database is read: every vote answered 303 must be there once, the
refused duplicates must not, and the votes per project must equal the count of what was sent.
Baseline: the budget page opened by one client at a time (its p50), measured first in the same
run; the ratio of the votes' p99 to it is printed.

Run: .venv/bin/python bench/participation.py [--pg postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.served import PY, percentile_ms, server_env, serving  # noqa: E402

PROJECTS = [
    ("Jardin partagé", 18_000),
    ("Bancs et ombrières", 24_000),
    ("Piste cyclable", 45_000),
    ("Boîte à livres", 3_500),
    ("Éclairage du terrain", 21_000),
    ("Composteurs", 12_000),
]

SETUP = r"""
import json, sys
from datetime import date
sys.path.insert(0, sys.argv[1])
from app import auth
from app.csrf import session_token_for
from app.db import make_engine, write_session
from app.settings import get_settings
from app.models.participation import Budget, BudgetProject
from app.participation import budgets as logic

n_codes, n_users, projects = int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
communes = ["57038", "57041", "57097", "57529", "57565", "57602"]
settings = get_settings()
engine = make_engine(settings.resolved_database_url)
out = {"codes": [], "tokens": [], "projects": []}
with write_session(engine) as s:
    budget = Budget(title="Budget bench", commune_insee=None, envelope=100_000, phase="vote")
    s.add(budget)
    s.flush()
    out["budget"] = budget.id
    for title, cost in projects:
        p = BudgetProject(budget_id=budget.id, title=title, cost=cost, status="feasible")
        s.add(p)
        s.flush()
        out["projects"].append([p.id, cost])
    for i in range(n_codes):
        insee = communes[i % len(communes)]
        voter = logic.person_voter(f"Habitant {i}", date(1970, 1, 1), insee)
        out["codes"].append(logic.issue_code(s, budget, voter=voter, commune_insee=insee))
    for i in range(n_users):
        user = auth.create_user(s, f"votant{i}-bench@eclor.test", role="resident", display_name=f"V{i}")
        user.commune_insee = communes[i % len(communes)]
        token = auth.start_session(s, user, idle_minutes=600, absolute_days=1)
        out["tokens"].append([token, session_token_for(settings.secret_key, token)])
print(json.dumps(out))
"""

CHECK = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from sqlalchemy import func, select
from app.db import make_engine, read_session
from app.settings import get_settings
from app.models.participation import Ballot, BallotChoice

budget_id = int(sys.argv[2])
engine = make_engine(get_settings().resolved_database_url)
with read_session(engine) as s:
    ballots = s.scalar(select(func.count()).select_from(Ballot).where(Ballot.budget_id == budget_id))
    voters = s.scalar(select(func.count(func.distinct(Ballot.voter))).where(Ballot.budget_id == budget_id))
    per_project = dict(s.execute(
        select(BallotChoice.project_id, func.count())
        .join(Ballot, Ballot.id == BallotChoice.ballot_id)
        .where(Ballot.budget_id == budget_id)
        .group_by(BallotChoice.project_id)
    ).all())
print(json.dumps({"ballots": ballots, "voters": voters, "per_project": {str(k): v for k, v in per_project.items()}}))
"""


def basket(rng: random.Random, projects: list[list[int]]) -> list[int]:
    """A basket within the 100,000 € envelope."""
    chosen = [pid for pid, _ in projects if rng.random() < 0.45] or [projects[0][0]]
    costs = dict((pid, cost) for pid, cost in projects)
    while sum(costs[p] for p in chosen) > 100_000:
        chosen.pop()
    return chosen


async def run_votes(base: str, info: dict, seconds: float, duplicates: int) -> dict:
    rng = random.Random(5000)
    budget = info["budget"]
    url = f"{base}/participation/budgets/{budget}/vote"
    page = f"{base}/participation/budgets/{budget}"
    voters: list[tuple[str, Any]] = [("code", c) for c in info["codes"]] + [
        ("user", t) for t in info["tokens"]
    ]
    rng.shuffle(voters)
    baskets = [basket(rng, info["projects"]) for _ in voters]
    twice = set(rng.sample(range(len(voters)), duplicates))
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    accepted: list[int] = []  # indexes of voters whose vote was answered 303
    dup_statuses: dict[str, int] = {}
    both: list[int] = []  # voters whose two submissions were both accepted (a double vote)
    retried = [0]
    args_retries = 20
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn, cookie_jar=aiohttp.DummyCookieJar()) as anon:
        async with anon.get(page) as r:
            await r.read()
            anon_csrf = r.cookies["csrftoken"].value

        async def post(session, data, cookies, record: bool) -> int | None:
            """Submit like a browser whose user tries again: after a 503 (waiting its Retry-After)
            or a lost answer; a 400 "already voted" after a lost answer means the vote is in."""
            uncertain = False
            for _attempt in range(args_retries):
                t0 = time.monotonic()
                try:
                    async with session.post(
                        url,
                        data=data,
                        cookies=cookies,
                        allow_redirects=False,
                        timeout=aiohttp.ClientTimeout(total=30),
                    ) as r:
                        body = await r.text()
                        if record:
                            latencies.append(time.monotonic() - t0)
                        if r.status == 503:
                            retried[0] += 1
                            await asyncio.sleep(min(float(r.headers.get("Retry-After", "1")), 5))
                            continue
                        if r.status == 400 and uncertain and "déjà voté" in body:
                            return 303
                        return r.status
                except (TimeoutError, aiohttp.ClientError):
                    uncertain = True
                    retried[0] += 1
                    await asyncio.sleep(1)
            return None

        async def one(i: int) -> None:
            await asyncio.sleep(seconds * i / len(voters))
            kind, secret = voters[i]
            fields = [("project", str(p)) for p in baskets[i]] + [("confirm", "1")]
            if kind == "code":
                cookies = {"csrftoken": anon_csrf}
                data = fields + [("code", secret), ("_csrf_token", anon_csrf)]
            else:
                token, csrf = secret
                cookies = {"eclor_session": token, "csrftoken": csrf}
                try:  # the page first, as a browser
                    async with anon.get(
                        page, cookies=cookies, timeout=aiohttp.ClientTimeout(total=30)
                    ) as r:
                        await r.read()
                except (TimeoutError, aiohttp.ClientError):
                    pass
                data = fields + [("_csrf_token", csrf)]
            tasks = [post(anon, data, cookies, True)]
            if i in twice:
                tasks.append(post(anon, data, cookies, False))
            results = await asyncio.gather(*tasks)
            label = str(results[0])
            statuses[label] = statuses.get(label, 0) + 1
            if i in twice:
                dup = str(results[1])
                dup_statuses[dup] = dup_statuses.get(dup, 0) + 1
                # At most one of the two may be accepted.
                if results[0] == 303 and results[1] == 303:
                    both.append(i)
                elif results[1] == 303:
                    accepted.append(i)
            if results[0] == 303:
                accepted.append(i)

        t0 = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(len(voters))))
        elapsed = time.monotonic() - t0
    expected: dict[str, int] = {}
    for i in accepted:
        for p in baskets[i]:
            expected[str(p)] = expected.get(str(p), 0) + 1
    return {
        "elapsed": elapsed,
        "latencies": latencies,
        "statuses": statuses,
        "dup_statuses": dup_statuses,
        "both": len(both),
        "retried": retried[0],
        "accepted": len(accepted),
        "accepted_unique": len(set(accepted)),
        "expected": expected,
        "sent": len(voters),
    }


async def baseline(base: str, budget: int, n: int = 40) -> list[float]:
    out = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as s:
        for _ in range(n):
            t0 = time.monotonic()
            async with s.get(f"{base}/participation/budgets/{budget}") as r:
                await r.read()
            out.append(time.monotonic() - t0)
    return out


def run_one(
    label: str, db_url: str | None, args: argparse.Namespace, port: int, workers: int = 1
) -> tuple[list[str], bool]:
    with tempfile.TemporaryDirectory() as tmp:
        env = server_env(tmp, db_url, port, mqtt_port=port + 50)
        if db_url:  # revision ids longer than Alembic's default 32 characters exist on main
            import sqlalchemy as sa

            eng = sa.create_engine(db_url)
            with eng.begin() as c:
                c.execute(
                    sa.text("CREATE TABLE alembic_version (version_num VARCHAR(64) PRIMARY KEY)")
                )
            eng.dispose()
        subprocess.run(
            [PY, "-m", "app.cli", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        made = subprocess.run(
            [PY, "-c", SETUP, str(ROOT), str(args.codes), str(args.users), json.dumps(PROJECTS)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        info = json.loads(made.stdout.strip().splitlines()[-1])
        with serving(ROOT, env, port, workers) as served:
            load_before = os.getloadavg()
            base_lat = asyncio.run(baseline(served.base, info["budget"]))
            cpu_before = served.cpu_seconds()
            result = asyncio.run(run_votes(served.base, info, args.seconds, args.duplicates))
            server_cpu = served.cpu_seconds() - cpu_before
            load_after = os.getloadavg()
        counted = json.loads(
            subprocess.run(
                [PY, "-c", CHECK, str(ROOT), str(info["budget"])],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
    lat = result["latencies"]
    no_loss = counted["ballots"] == result["accepted"] == result["accepted_unique"]
    no_double = counted["voters"] == counted["ballots"] and result["both"] == 0
    match = counted["per_project"] == result["expected"]
    all_voted = result["accepted"] == result["sent"]
    in_time = result["elapsed"] <= args.seconds * 1.1
    ok = no_loss and no_double and match and all_voted and in_time
    requests = result["sent"] + args.duplicates + result["retried"]
    lines = [
        f"### {label}",
        "",
        f"votes sent: {result['sent']} over {result['elapsed']:.1f} s (paced over {args.seconds:.0f} s); "
        f"final answers: {dict(sorted(result['statuses'].items()))}; tries again after a 503 or a "
        f"lost answer: {result['retried']}",
        f"second submissions of {args.duplicates} voters at the same moment: "
        f"{dict(sorted(result['dup_statuses'].items()))}; both of a pair accepted: {result['both']}",
        f"ballots in the database: {counted['ballots']} (distinct voters {counted['voters']}); "
        f"votes answered 303: {result['accepted']}; votes per project equal to what was sent: {match}",
        f"vote latency (each request, tries again included): p50 {percentile_ms(lat, 50):.0f} ms, p95 {percentile_ms(lat, 95):.0f} ms, p99 {percentile_ms(lat, 99):.0f} ms, "
        f"max {percentile_ms(lat, 100):.0f} ms",
        f"baseline (budget page, one client at a time): p50 {percentile_ms(base_lat, 50):.0f} ms; "
        f"ratio vote p99 / baseline p50: {percentile_ms(lat, 99) / max(percentile_ms(base_lat, 50), 1e-9):.1f}",
        f"server CPU over the votes: {server_cpu:.1f} s, {server_cpu / max(requests, 1) * 1000:.1f} ms "
        f"per request ({requests} vote requests, page opens of signed-in voters included in the time)",
        f"machine load (1-min average) before / after: {load_before[0]:.1f} / {load_after[0]:.1f} "
        f"on {os.cpu_count()} CPUs",
        f"server tracebacks in its log: {served.tracebacks}",
        f"none lost: {no_loss}; none doubled: {no_double}; every voter's vote recorded: {all_voted}; "
        f"within the minute: {in_time}",
        f"verdict: {'PASS' if ok else 'FAIL'}",
        "",
    ]
    return lines, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--codes", type=int, default=4000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--duplicates", type=int, default=250)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--port", type=int, default=8810)
    parser.add_argument(
        "--pg", default="", help="PostgreSQL admin URL; a scratch database is made and dropped"
    )
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    parser.add_argument(
        "--pg-workers",
        type=int,
        default=2,
        help="web processes on PostgreSQL (2: the production topology of the README)",
    )
    args = parser.parse_args()
    out: list[str] = []
    all_ok = True
    if args.only != "postgresql":
        lines, ok = run_one("SQLite (WAL), eclor serve defaults", None, args, args.port)
        out += lines
        all_ok &= ok
        print("\n".join(lines), flush=True)
    if args.pg and args.only != "sqlite":
        import sqlalchemy as sa

        name = f"eclor_bench_participation_{os.getpid()}"
        admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            url = (
                sa.engine.make_url(args.pg).set(database=name).render_as_string(hide_password=False)
            )
            lines, ok = run_one(
                f"PostgreSQL, eclor serve --workers {args.pg_workers}",
                url,
                args,
                args.port + 1,
                args.pg_workers,
            )
            out += lines
            all_ok &= ok
            print("\n".join(lines), flush=True)
        finally:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
