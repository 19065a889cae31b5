"""The fleet simulator (``workers.fleet``) driven from the inventory in the database.

``eclor fleet`` and ``eclor serve --with-worker`` (on embedded defaults) play
the territory's lights and sensors with it: one simulated gateway per lamp power
(the simulator gives one nominal power to a gateway's lamps, so the telemetry's
power and energy match each lamp's rating) and one for the sensors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from app.db import read_session

log = logging.getLogger("eclor.lighting.fleet")
SIMULATED_KINDS = ("waste_centre", "traffic", "air_quality", "fill_level")


@dataclass
class Inventory:
    lights_by_power: dict[float, list[str]] = field(default_factory=dict)
    sensors: dict[str, str] = field(default_factory=dict)

    @property
    def light_count(self) -> int:
        return sum(len(ids) for ids in self.lights_by_power.values())


def load_inventory(engine: Engine) -> Inventory:
    from app.models.lighting import Streetlight
    from app.models.sensors import Sensor

    inventory = Inventory()
    with read_session(engine) as session:
        for device_id, nominal in session.execute(
            select(Streetlight.device_id, Streetlight.nominal_w).order_by(Streetlight.device_id)
        ).all():
            inventory.lights_by_power.setdefault(round(float(nominal), 1), []).append(device_id)
        for sensor_id, kind in session.execute(
            select(Sensor.id, Sensor.kind).order_by(Sensor.id)
        ).all():
            if kind in SIMULATED_KINDS:
                inventory.sensors[sensor_id] = kind
    return inventory


async def play(
    url: str,
    prefix: str,
    inventory: Inventory,
    stop: asyncio.Event,
    *,
    light_period: float = 300.0,
    sensor_period: float = 30.0,
    seed: int | None = None,
    fault_rate: float = 0.0,
    drop_rate: float = 0.0,
    always_open: bool = False,
    full_speed: bool = False,
    gateway_prefix: str = "GW-ECLOR",
) -> list[Any]:
    """Run one simulated gateway per lamp power, plus one for the sensors, until ``stop``."""
    from workers.fleet import Fleet

    fleets = []
    for index, (power, ids) in enumerate(sorted(inventory.lights_by_power.items())):
        fleets.append(
            Fleet(
                url,
                prefix,
                lights=ids,
                sensors={},
                period=light_period,
                nominal_power_w=power,
                seed=None if seed is None else seed + index,
                fault_rate=fault_rate,
                drop_rate=drop_rate,
                full_speed=full_speed,
                gateway_id=f"{gateway_prefix}-{int(power)}W",
            )
        )
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
                gateway_id=f"{gateway_prefix}-SENSORS",
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


def start_demo_fleet(settings: Any, engine: Engine) -> Callable[[], None]:
    """Play the inventory against the embedded broker in a thread (``eclor serve --with-worker``).

    Waits for an inventory (``eclor demo`` may run after the server started) and
    returns a function that stops the simulation.
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
        log.info(
            "demo fleet started",
            extra={"lights": inventory.light_count, "sensors": len(inventory.sensors)},
        )
        await play(
            settings.mqtt_url,
            settings.mqtt_prefix,
            inventory,
            stop,
            light_period=120.0,
            sensor_period=30.0,
            fault_rate=0.004,
            drop_rate=0.01,
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
