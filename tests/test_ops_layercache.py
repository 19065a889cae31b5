"""Big operations-centre layers are built once per change, and every change is seen.

The lights and reports layers are served from kept bytes (``app.ops.layercache``): a request with
nothing changed builds nothing, and each way the rows can change (telemetry, the offline sweep, an
inventory import, a report's state or category, time moving a closed report out of its window, the
visitor's language) serves the new rows at once.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random

import pytest
from sqlalchemy import delete, select, update

from app import domains_ops, events, territories
from app.db import read_session, utcnow, write_session
from app.lighting import control
from app.lighting.inventory import import_inventory
from app.lighting.relay import Inbound, ingest
from app.models.lighting import Streetlight
from app.models.reports import Report
from app.ops import centre, layercache
from app.territories import bind
from app.reports import catalogue, workflow
from tests.ops_seed import seed_territory


def _features(client, name: str) -> dict[str, dict]:
    response = client.get(f"/staff/ops/layers/{name}.geojson")
    assert response.status_code == 200, response.text
    return {f["id"]: f for f in json.loads(response.content)["features"]}


def _builds(staff) -> int:
    return layercache.for_app(staff.client.app.state).builds


def _tele(device: str, level: int, status: str = "ok") -> Inbound:
    at = utcnow()
    payload = {
        "ts": at.isoformat(),
        "level": level,
        "power_w": 40.0,
        "energy_wh": 100.0,
        "status": status,
    }
    return Inbound("tele_light", device, payload, at)


def test_an_unchanged_layer_is_built_once_and_revalidates_with_its_etag(engine, staff):
    seed_territory(engine, staff.id)
    first = staff.client.get(
        "/staff/ops/layers/lights.geojson", headers={"accept-encoding": "gzip"}
    )
    builds = _builds(staff)
    again = staff.client.get(
        "/staff/ops/layers/lights.geojson", headers={"accept-encoding": "gzip"}
    )
    assert _builds(staff) == builds, "nothing changed: nothing built"
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert again.headers["content-encoding"] == "gzip"
    plain = staff.client.get(
        "/staff/ops/layers/lights.geojson", headers={"accept-encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    with read_session(engine) as session:  # the kept bytes are the layer as built right now
        territory = territories.read(session).default
        bind(session, territory)  # as the request's session is
        layer = centre.find(domains_ops.layers(), "lights")
        assert plain.content == centre.geojson(layer, session, utcnow())
    kept = layercache.for_app(staff.client.app.state)._built[(territory.id, "lights", "fr")]
    assert gzip.decompress(kept.gzipped) == plain.content
    unchanged = staff.client.get(
        "/staff/ops/layers/lights.geojson", headers={"if-none-match": first.headers["etag"]}
    )
    assert unchanged.status_code == 304 and unchanged.content == b""


def test_lights_follow_telemetry_the_offline_sweep_and_an_import(engine, staff):
    seed_territory(engine, staff.id)
    light = "SL-T-0001"
    ingest(engine, [_tele(light, 100)])
    assert _features(staff.client, "lights")[light]["properties"]["state"] == "on"
    builds = _builds(staff)
    ingest(engine, [_tele(light, 100)])  # the same state again: no event, the bytes are kept
    assert _features(staff.client, "lights")[light]["properties"]["state"] == "on"
    assert _builds(staff) == builds
    ingest(engine, [_tele(light, 30)])
    shown = _features(staff.client, "lights")[light]["properties"]
    assert (shown["state"], shown["level"]) == ("dimmed", 30)
    ingest(engine, [_tele(light, 30, status="defectiveLamp")])
    assert _features(staff.client, "lights")[light]["properties"]["state"] == "fault"
    # No data for long enough: the worker's sweep marks it offline.
    with write_session(engine) as session:
        session.execute(
            update(Streetlight)
            .where(Streetlight.id != light)
            .values(last_seen_at=None)  # the others are left out of the sweep
        )
    assert _features(staff.client, "lights")[light]["properties"]["state"] == "fault"
    with write_session(engine) as session:
        went = control.sweep_offline(session, utcnow() + dt.timedelta(days=1))
    assert light in went
    assert _features(staff.client, "lights")[light]["properties"]["state"] == "offline"
    # An inventory import moves a light and adds one.
    csv = (
        "id,device_id,group_id,cabinet_id,commune_insee,street,lat,lon,nominal_w\n"
        f"{light},{light},G1,CAB-T,57038,Rue neuve,49.4731,5.9561,70\n"
        "SL-T-0999,SL-T-0999,G1,CAB-T,57038,Rue neuve,49.4732,5.9562,70\n"
    ).encode()
    with write_session(engine) as session:
        import_inventory(session, csv, "lights.csv")
    shown = _features(staff.client, "lights")
    assert shown[light]["geometry"]["coordinates"] == [5.9561, 49.4731]
    assert "SL-T-0999" in shown


def test_lights_added_without_an_event_still_show(engine, staff):
    seed_territory(engine, staff.id)
    assert "SL-X-0001" not in _features(staff.client, "lights")
    with write_session(engine) as session:  # a bulk insert, as the demo loader does
        row = session.scalars(select(Streetlight).limit(1)).one()
        data = {c.name: getattr(row, c.name) for c in Streetlight.__table__.columns}
        data.update(id="SL-X-0001", device_id="SL-X-0001")
        session.execute(Streetlight.__table__.insert(), [data])
    assert "SL-X-0001" in _features(staff.client, "lights")


def test_reports_follow_state_and_category_changes_and_the_language(engine, staff):
    seed_territory(engine, staff.id)
    with read_session(engine) as session:
        report_id = session.scalars(select(Report.id).where(Report.status == "new")).first()
    key = str(report_id)
    assert _features(staff.client, "reports")[key]["properties"]["state"] == "new"
    with write_session(engine) as session:
        report = session.get(Report, report_id)
        workflow.change_status(session, report, "confirmed", actor_id=staff.id, notify_people=False)
    assert _features(staff.client, "reports")[key]["properties"]["state"] == "confirmed"
    before = _features(staff.client, "reports")[key]["properties"]["label"]
    with write_session(engine) as session:
        report = session.get(Report, report_id)
        workflow.recategorise(session, report, "rubble", actor_id=staff.id)
    after = _features(staff.client, "reports")[key]["properties"]["label"]
    assert after != before and after == catalogue.CATEGORIES["rubble"]
    staff.client.cookies.set("lang", "en")
    english = _features(staff.client, "reports")[key]["properties"]["label"]
    assert english != after, "labels are kept per language"


def test_a_closed_report_leaves_the_layer_when_its_window_ends(engine, staff):
    seed_territory(engine, staff.id)
    now = utcnow()
    with write_session(engine) as session:
        closed = Report(
            category="rubble",
            lat=49.47,
            lon=5.95,
            commune_insee="57038",
            status="resolved",
            created_at=now - dt.timedelta(days=40),
            updated_at=now - dt.timedelta(days=30) + dt.timedelta(minutes=5),
        )
        session.add(closed)
        session.flush()
        closed_id = str(closed.id)
    layer = centre.find(domains_ops.layers(), "reports")
    cache = layercache.LayerCache()

    def ids(at: dt.datetime) -> set[str]:
        with read_session(engine) as session:
            body = cache.get(layer, session, at, "fr", centre.geojson).body
        return {f["id"] for f in json.loads(body)["features"]}

    assert closed_id in ids(now)
    builds = cache.builds
    assert closed_id in ids(now + dt.timedelta(minutes=1))
    assert cache.builds == builds, "still inside its window: kept"
    assert closed_id not in ids(now + dt.timedelta(minutes=6))


def _random_lights_round(session, rng: random.Random, round_: int, evented: bool) -> None:
    ids = list(session.scalars(select(Streetlight.id)).all())
    template = session.get(Streetlight, ids[0])
    data = {c.name: getattr(template, c.name) for c in Streetlight.__table__.columns}
    touched = []
    # telemetry (level, state) always publishes its event; lights added or removed may not
    for light_id in rng.sample(ids, 12 if evented else 0):
        session.execute(
            update(Streetlight)
            .where(Streetlight.id == light_id)
            .values(
                actual_level=rng.choice((0, 30, 100)),
                status=rng.choice(("ok", "ok", "defectiveLamp")),
                offline=rng.random() < 0.1,
            )
        )
        touched.append(light_id)
    gone = rng.sample(ids, 5)
    session.execute(delete(Streetlight).where(Streetlight.id.in_(gone)))
    touched += gone
    added = [  # before, between and after the others; one round adds enough to split a run
        f"SL-{rng.choice('AMTZ')}-{rng.randrange(100_000):05d}-{round_}-{n}"
        for n in range(400 if round_ == 2 else 7)
    ]
    session.execute(
        Streetlight.__table__.insert(),
        [
            {**data, "id": i, "device_id": i, "lat": 49.47 + rng.random() / 100, "lon": 5.95}
            for i in added
        ],
    )
    touched += added
    if evented:
        events.publish_many(session, [("lights", i, "state", {}) for i in touched])


def _random_reports_round(session, rng: random.Random, round_: int, evented: bool) -> None:
    now = utcnow()
    ids = list(session.scalars(select(Report.id)).all())
    touched = []
    for report_id in rng.sample(ids, min(len(ids), 6)):
        status = rng.choice(catalogue.OPEN_STATUSES + catalogue.CLOSED_STATUSES + ("hidden",))
        session.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(
                status=status,
                category=rng.choice(list(catalogue.CATEGORIES)),
                # a writer without an event still stamps its change (the layer's stamp sees it)
                updated_at=now - dt.timedelta(days=rng.choice((0, 0, 45) if evented else (0,))),
            )
        )
        touched.append(report_id)
    if evented:  # Eclor never deletes a report; a deletion is seen through its event
        gone = rng.choice(ids)
        session.execute(delete(Report).where(Report.id == gone))
        touched.append(gone)
    for _ in range(5):
        report = Report(
            category=rng.choice(list(catalogue.CATEGORIES)),
            lat=49.47 + rng.random() / 100,
            lon=5.95,
            commune_insee="57038",
            status=rng.choice(catalogue.OPEN_STATUSES),
            created_at=now,
            updated_at=now,
        )
        session.add(report)
        session.flush()
        touched.append(report.id)
    if evented:
        events.publish_many(session, [("reports", str(i), "status", {}) for i in touched])


@pytest.mark.parametrize("name", ["lights", "reports"])
def test_a_layer_rebuilt_by_ids_equals_the_whole_layer_after_random_changes(engine, staff, name):
    seed_territory(engine, staff.id, lights=300)
    with write_session(engine) as session:  # enough reports for more than one run
        for index in range(300):
            session.add(
                Report(
                    category="rubble",
                    lat=49.47 + index * 1e-5,
                    lon=5.95,
                    commune_insee="57038",
                    status="new",
                )
            )
    layer = centre.find(domains_ops.layers(), name)
    cache = layercache.LayerCache()
    rng = random.Random(23)

    def served(kept: layercache.LayerCache) -> layercache.Built:
        with read_session(engine) as session:
            return kept.get(layer, session, utcnow(), "fr", centre.geojson)

    first = served(cache)
    assert cache.whole == 1
    for round_ in range(6):
        # the last round writes without events: what the layer's stamp shows is still followed
        evented = round_ < 5
        with write_session(engine) as session:
            if name == "lights":
                _random_lights_round(session, rng, round_, evented)
            else:
                _random_reports_round(session, rng, round_, evented)
        kept = served(cache)
        assert cache.whole == 1, f"round {round_}: rebuilt by ids, not whole"
        whole = served(layercache.LayerCache())
        assert kept.body == whole.body, f"round {round_}: the layer rebuilt by ids differs"
        assert gzip.decompress(kept.gzipped) == kept.body
        assert kept.etag == whole.etag and kept.etag != first.etag
        with read_session(engine) as session:
            assert kept.body == centre.geojson(layer, session, utcnow())
    assert len(json.loads(kept.body)["features"]) > 0
