"""The fleet simulator (``workers.fleet``) driven from the inventory in the database.

``eclor fleet`` and ``eclor serve --with-worker`` (on embedded defaults) play
the territory's lights and sensors with it: one simulated gateway per cabinet
(its lamps at their own ratings), a light without a cabinet on its own, and one
gateway for the sensors. Each connects with its own MQTT account
(``gateway-{cabinet}``, ``gateway-sensors`` or the device id, see
:mod:`app.mqtt_auth`), whose rights :func:`gateway_devices` gives the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select
from sqlalchemy.engine import Engine

from app.db import read_session

log = logging.getLogger("eclor.lighting.fleet")
SIMULATED_KINDS = (
    "waste_centre",
    "traffic",
    "air_quality",
    "fill_level",
    "solar",
    "water_meter",
    "energy_meter",
    "counter",
)


SENSORS_GATEWAY = "sensors"


@dataclass
class Inventory:
    # cabinet id (None: no cabinet) -> device id -> lamp power (W)
    lights_by_cabinet: dict[str | None, dict[str, float]] = field(default_factory=dict)
    sensors: dict[str, str] = field(default_factory=dict)

    @property
    def light_count(self) -> int:
        return sum(len(ids) for ids in self.lights_by_cabinet.values())


def load_inventory(engine: Engine) -> Inventory:
    from app.models.lighting import Streetlight
    from app.models.sensors import Sensor

    inventory = Inventory()
    with read_session(engine) as session:
        for device_id, nominal, cabinet in session.execute(
            select(
                col(Streetlight.device_id), col(Streetlight.nominal_w), col(Streetlight.cabinet_id)
            ).order_by(col(Streetlight.device_id))
        ).all():
            inventory.lights_by_cabinet.setdefault(cabinet, {})[device_id] = float(nominal)
        for sensor_id, kind in session.execute(
            select(col(Sensor.id), col(Sensor.kind)).order_by(col(Sensor.id))
        ).all():
            if kind in SIMULATED_KINDS:
                inventory.sensors[sensor_id] = kind
    return inventory


def gateway_devices(engine: Engine) -> Callable[[str], list[str] | None]:
    """The broker's lookup of the devices behind a gateway: a cabinet's lights, or the sensors."""
    from app.models.lighting import LightCabinet, Streetlight
    from app.models.sensors import Sensor

    def devices(name: str) -> list[str] | None:
        with read_session(engine) as session:
            if name == SENSORS_GATEWAY:
                return list(session.scalars(select(col(Sensor.id))).all())
            if session.get(LightCabinet, name) is None:
                return None
            return list(
                session.scalars(
                    select(col(Streetlight.device_id)).where(col(Streetlight.cabinet_id) == name)
                ).all()
            )

    return devices


def accounts_table(engine: Engine) -> tuple[list[str], dict[str, list[str]]]:
    """Every device id (lights and sensors) and every gateway with its devices."""
    inventory = load_inventory(engine)
    from app.models.sensors import Sensor

    with read_session(engine) as session:
        sensors = list(session.scalars(select(col(Sensor.id)).order_by(col(Sensor.id))).all())
    devices = sorted(d for ids in inventory.lights_by_cabinet.values() for d in ids) + sensors
    gateways = {
        cabinet: sorted(ids) for cabinet, ids in inventory.lights_by_cabinet.items() if cabinet
    }
    gateways[SENSORS_GATEWAY] = sensors
    return devices, gateways


async def play(
    url: str,
    prefix: str,
    inventory: Inventory,
    stop: asyncio.Event,
    *,
    key: str | None = None,
    light_period: float = 300.0,
    sensor_period: float = 30.0,
    seed: int | None = None,
    fault_rate: float = 0.0,
    drop_rate: float = 0.0,
    always_open: bool = False,
    full_speed: bool = False,
) -> list[Any]:
    """Run one simulated gateway per cabinet (a light without one alone), plus one for the
    sensors, until ``stop``; with ``key``, each connects with its account's derived password."""
    from app.mqtt_auth import GATEWAY_PREFIX, derived_password
    from workers.fleet import Fleet

    def account(username: str) -> dict[str, Any]:
        if key is None:
            return {"gateway_id": username}
        return {
            "gateway_id": username,
            "username": username,
            "password": derived_password(key, username),
        }

    groups: list[tuple[str, dict[str, float]]] = []
    for cabinet, lights in sorted(inventory.lights_by_cabinet.items(), key=lambda i: i[0] or ""):
        if cabinet:
            groups.append((GATEWAY_PREFIX + cabinet, lights))
        else:
            groups.extend((device_id, {device_id: power}) for device_id, power in lights.items())
    fleets = [
        Fleet(
            url,
            prefix,
            lights=lights,
            sensors={},
            period=light_period,
            seed=None if seed is None else seed + index,
            fault_rate=fault_rate,
            drop_rate=drop_rate,
            full_speed=full_speed,
            **account(username),
        )
        for index, (username, lights) in enumerate(groups)
    ]
    if inventory.sensors:
        fleets.append(
            Fleet(
                url,
                prefix,
                lights=[],
                sensors=inventory.sensors,
                period=sensor_period,
                seed=seed,
                drop_rate=drop_rate,
                always_open=always_open,
                **account(GATEWAY_PREFIX + SENSORS_GATEWAY),
            )
        )
    tasks = [asyncio.create_task(fleet.run()) for fleet in fleets]
    try:
        await stop.wait()
    finally:
        for fleet in fleets:
            await fleet.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
    return fleets


READY_WAIT_S = 30.0  # the longest the demo fleet waits for the relay's subscription

DEMO_DROP_RATE = 0.01
"""Share of the demo fleet's acks and telemetry lost on the way, as a real network loses some (a lost
report comes again at the light's next round, two minutes later)."""


def start_demo_fleet(
    settings: Any, engine: Engine, ready: Callable[[], bool] | None = None
) -> Callable[[], None]:
    """Play the inventory against the embedded broker in a thread (``eclor serve --with-worker``).

    Waits for an inventory (``eclor demo`` may run after the server started), and for ``ready``
    (the relay subscribed: telemetry is QoS 0, so a first report sent before would be lost and the
    light shown unseen until its next round, two minutes later; 30 s at most), and returns a
    function that stops the simulation.
    """
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        inventory = Inventory()
        while not stop.is_set():
            inventory = await asyncio.to_thread(load_inventory, engine)
            if inventory.light_count or inventory.sensors:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 15)
        if stop.is_set():
            return
        deadline = asyncio.get_running_loop().time() + READY_WAIT_S
        while ready is not None and not ready() and asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
        log.info(
            "demo fleet started",
            extra={"lights": inventory.light_count, "sensors": len(inventory.sensors)},
        )
        await play(
            settings.mqtt_url,
            settings.mqtt_prefix,
            inventory,
            stop,
            key=settings.mqtt_key,
            light_period=120.0,
            sensor_period=30.0,
            fault_rate=0.004,
            drop_rate=DEMO_DROP_RATE,
            always_open=True,
        )

    thread = threading.Thread(
        target=loop.run_until_complete, args=(main(),), name="eclor-demo-fleet", daemon=True
    )
    thread.start()

    def stop_fleet() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)

    return stop_fleet
