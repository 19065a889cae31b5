"""The periodic reconcile of programs and overrides runs in short write transactions of whole
groups, and issues exactly what one transaction over the whole fleet issues."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import event, select

from app.db import read_session, utcnow, write_session
from app.lighting import control
from app.lighting.programs import Program
from app.models.lighting import LightCommand, LightGroup, LightOverride, LightProgram, Streetlight
from tests.lighting_helpers import seed_lights


class _Undo(Exception):
    """Rolls the one-transaction reconcile back once its result is read."""


def _program(engine, name: str, pairs: list[tuple[str, int]]) -> int:
    with write_session(engine) as session:
        row = LightProgram(name=name, definition=json.dumps(Program.from_pairs(pairs).to_dict()))
        session.add(row)
        session.flush()
        return row.id


def _result(session) -> tuple[list, list, list]:
    commands = sorted(
        (c.light_id, c.device_id, c.level, c.reason, c.state, c.expires_at, c.override_id)
        for c in session.scalars(select(LightCommand))
    )
    targets = sorted(
        (light.id, light.target_level, light.target_reason)
        for light in session.scalars(select(Streetlight))
    )
    overrides = sorted((o.id, o.state) for o in session.scalars(select(LightOverride)))
    return commands, targets, overrides


def test_the_reconcile_in_short_batches_issues_what_one_transaction_issues(engine):
    evening = _program(
        engine, "Soirée", [("dusk", 100), ("22:00", 50), ("06:00", 100), ("dawn", 0)]
    )
    fixed = _program(engine, "Fixe", [("18:00", 80), ("23:00", 20), ("05:00", 80), ("08:00", 0)])
    g1 = seed_lights(engine, 7, group="G1", prefix="SL-G1-", program_id=evening)
    seed_lights(engine, 5, group="G2", prefix="SL-G2-", program_id=evening)
    seed_lights(engine, 3, group="G3", prefix="SL-G3-")  # no program: nothing to issue
    seed_lights(engine, 9, group="G4", prefix="SL-G4-", program_id=fixed)
    with write_session(engine) as session:
        session.add(LightGroup(id="G5", name="Groupe vide", commune_insee="57038"))
    now = utcnow()
    with write_session(engine) as session:
        control.set_override(session, "light", g1[2], 30, None, now=now)  # one light of G1
        control.set_override(session, "group", "G2", 10, 120, now=now)  # a whole group
        # an override that has expired by now: its group goes back to its program
        control.set_override(session, "group", "G4", 70, 1, now=now - dt.timedelta(minutes=10))
    with read_session(engine) as session:
        before = _result(session)

    try:
        with write_session(engine) as session:
            one_issued = control.reconcile(session, now)
            session.flush()
            one = _result(session)
            raise _Undo
    except _Undo:
        pass
    with read_session(engine) as session:
        assert _result(session) == before, "the one-transaction run was rolled back"

    commits: list[int] = []

    def committed(conn) -> None:
        commits.append(1)

    event.listen(engine, "commit", committed)
    try:
        issued = control.reconcile_in_batches(engine, now, batch_lights=8)
    finally:
        event.remove(engine, "commit", committed)
    with read_session(engine) as session:
        batched = _result(session)
    assert issued == one_issued and issued > 0
    assert batched == one
    assert batched != before
    # G1 (7), G2 + G3 (8), G4 (9), G5 (0): four write transactions, none over 9 lights
    assert len(commits) >= 4
    by_reason = {(c[3], c[6] is not None) for c in batched[0] if c[0].startswith("SL-G4-")}
    assert ("program", False) in by_reason, "G4's expired override gave way to its program"
