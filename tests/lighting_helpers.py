"""Helpers for the lighting tests: an inventory in the database, a running relay and fleet, a TCP proxy
that can cut the link to the broker, and polling."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from app.db import read_session, write_session
from app.lighting.relay import Relay, RelayConfig, mqtt_relay
from app.models.lighting import LightCabinet, LightCommand, LightGroup, Streetlight
from workers.fleet import Fleet

FAST = RelayConfig(
    poll_s=0.05,
    retry_initial_s=1.0,
    retry_max_s=2.0,
    ingest_interval_s=0.05,
    housekeeping_s=0.2,
    reconcile_s=3600.0,
    lease_s=5.0,
)


def seed_lights(
    engine: Engine,
    count: int,
    *,
    group: str = "G1",
    prefix: str = "SL-T-",
    period_s: int = 60,
    program_id: int | None = None,
) -> list[str]:
    """A cabinet, a group and ``count`` lights (ids and device ids ``{prefix}0001``...)."""
    ids = [f"{prefix}{index:04d}" for index in range(1, count + 1)]
    with write_session(engine) as session:
        if session.get(LightCabinet, "CAB-T") is None:
            session.add(
                LightCabinet(
                    id="CAB-T", name="Armoire de test", commune_insee="57038", lat=49.472, lon=5.955
                )
            )
            session.flush()
        session.add(
            LightGroup(
                id=group,
                name=f"Groupe {group}",
                commune_insee="57038",
                cabinet_id="CAB-T",
                program_id=program_id,
            )
        )
        session.flush()
        session.execute(
            Streetlight.__table__.insert(),
            [
                {
                    "id": light_id,
                    "device_id": light_id,
                    "group_id": group,
                    "cabinet_id": "CAB-T",
                    "commune_insee": "57038",
                    "street": "Rue de test",
                    "lat": 49.472 + i * 1e-4,
                    "lon": 5.955,
                    "model": "Test LED",
                    "technology": "LED",
                    "nominal_w": 70.0,
                    "circuit": "C1",
                    "reporting_period_s": period_s,
                    "status": "ok",
                    "offline": False,
                }
                for i, light_id in enumerate(ids)
            ],
        )
    return ids


def commands(engine: Engine) -> list[LightCommand]:
    with read_session(engine) as session:
        return list(session.scalars(select(LightCommand).order_by(LightCommand.id)).all())


def states(engine: Engine) -> dict[str, int]:
    out: dict[str, int] = {}
    for command in commands(engine):
        out[command.state] = out.get(command.state, 0) + 1
    return out


async def eventually(
    check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05
) -> Any:
    """Poll ``check`` (run in a thread) until it returns a truthy value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(check)
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


@contextlib.asynccontextmanager
async def running_relay(
    engine: Engine, url: str, prefix: str, config: RelayConfig = FAST, wait_connected: bool = True
) -> AsyncIterator[Relay]:
    relay = mqtt_relay(engine, url, prefix, worker_id=f"test-{uuid.uuid4().hex[:8]}", config=config)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        if wait_connected:
            assert relay.backend is not None
            await asyncio.wait_for(relay.backend.connected.wait(), 10)
        yield relay
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


@contextlib.asynccontextmanager
async def running_fleet(
    url: str, prefix: str, lights: list[str], **options: Any
) -> AsyncIterator[Fleet]:
    options.setdefault("period", 3600.0)
    options.setdefault("seed", 7)
    options.setdefault("initial_level", 0)
    fleet = Fleet(
        url,
        prefix,
        lights=lights,
        sensors=options.pop("sensors", {}),
        gateway_id=f"GW-{uuid.uuid4().hex[:8]}",
        **options,
    )
    task = asyncio.create_task(fleet.run())
    try:
        await asyncio.wait_for(fleet.ready.wait(), 10)
        yield fleet
    finally:
        await fleet.stop()
        await asyncio.wait_for(task, 10)


class Proxy:
    """A TCP relay in front of the broker: :meth:`cut` is a broker outage, :meth:`restore` its end."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.listen_port = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.listen_port)
        self.listen_port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.listen_port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError, RuntimeError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(OSError, RuntimeError):
                writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()
