"""Lighting and sensor fleet simulator behind ``eclor fleet``.

The fleet plays streetlights and sensors against an MQTT broker, speaking the
MQTT contract of DESIGN.md under the prefix ``{p}`` (MQTT 5, JSON payloads):

* ``{p}/cmd/light/{id}`` (received, QoS 1): ``setLevel`` commands. A light
  deduplicates on ``command_id`` (a repeated command is not applied again;
  its last answer is sent again), refuses a command whose ``expires_at`` has
  passed (ack ``expired``, never applied), rejects malformed ones (ack
  ``rejected``), otherwise acks ``accepted``, ramps to the level over
  ``ramp_s`` seconds and acks ``applied`` with ``actual_level`` once there. A
  newer command replaces one still ramping; the replaced one is acked
  ``applied`` with the level reached at that moment.
* ``{p}/ack/light/{id}`` (sent, QoS 1): ``command_id, status, actual_level, ts``.
* ``{p}/tele/light/{id}`` (sent every period, QoS 0): ``ts, level, power_w,
  energy_wh, status``. Power is ``standby + nominal x max(level, driver floor)``
  while lit (driver floor 10 %, standby 0.7 W), standby alone when off or when
  the lamp is defective; energy integrates power over time.
* ``{p}/tele/sensor/{id}`` (sent every period, QoS 0): ``ts, kind`` and the
  measures of the kind: ``waste_centre`` (cumulative ``arrivals``,
  ``admissions``, ``exits`` and ``bays``), ``traffic`` (``intensity``,
  ``occupancy``, ``averageVehicleSpeed``, ``congested``), ``air_quality``
  (``no2``, ``pm10``, ``pm25``, ``o3`` in µg/m³), ``fill_level``
  (``fillingLevel`` 0..1).
* ``{p}/status/{id}`` (sent, retained, QoS 1): ``"online"`` / ``"offline"``
  (JSON strings).

Status and the last will: the whole fleet shares one MQTT connection, like a
gateway in front of its devices, and a connection carries one will. The
fleet's will is a retained ``"offline"`` on ``{p}/status/{gateway_id}``. Each
device's own status is published retained ``"online"`` on every (re)connect
and retained ``"offline"`` on a clean :meth:`Fleet.stop`. After an abrupt
loss (:meth:`Fleet.kill`, a crash) only the gateway's status turns offline:
the server must decide a device is offline from the age of its last data
(N x the period), not from its retained status alone.

With an account (``username``/``password``, see ``app.mqtt_auth``) the fleet is a
cabinet's gateway: it subscribes to each of its lights' command topics, and the
broker lets it publish only for them. The simulated devices themselves are in
``workers.devices``.

Knobs for tests and demos: ``fault_rate`` (share of lamps that start
``defectiveLamp``), ``drop_rate`` (acks and telemetry silently not sent),
``never_ack`` (devices that ignore commands but keep reporting), ``silent``
(devices that publish nothing and ignore commands while their status still
says online), ``period``, ``seed`` (same seed, same simulated values),
``full_speed`` (telemetry back to back, for benchmarks) and :meth:`Fleet.kill`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import re
import signal
import socket
import ssl
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from app.lighting.messages import Command, CommandRefused, iso, parse_command
from app.lighting.messages import topic as contract_topic
from workers.devices import (
    SENSOR_KINDS,
    STANDBY_W,
    Sensor,
    SimulatedLight,
    _local_hour,
    _make_sensor,
    demo_sensors,
    light_power_w,
    parse_sensor_spec,
)

__all__ = [
    "SENSOR_KINDS",
    "STANDBY_W",
    "Fleet",
    "FleetStats",
    "SimulatedLight",
    "default_light_ids",
    "demo_sensors",
    "light_power_w",
    "main",
    "parse_mqtt_url",
    "parse_sensor_spec",
]

logger = logging.getLogger("eclor.fleet")

DEFAULT_PREFIX = "eclor"
# Without ECLOR_MQTT_URL, `eclor serve` runs the embedded broker on this port.
DEFAULT_EMBEDDED_PORT = 18830
DEFAULT_URL = f"mqtt://127.0.0.1:{DEFAULT_EMBEDDED_PORT}"
MAX_RAMP_S = 3600.0
_ONLINE = json.dumps("online").encode()
_OFFLINE = json.dumps("offline").encode()


def parse_mqtt_url(url: str) -> dict[str, Any]:
    """Turn ``mqtt://[user[:password]@]host[:port]`` (or ``mqtts://``) into aiomqtt arguments."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp"):
        raise ValueError(f"unsupported MQTT URL scheme: {url!r}")
    if not parts.hostname:
        raise ValueError(f"MQTT URL without a host: {url!r}")
    tls = parts.scheme == "mqtts"
    args: dict[str, Any] = {
        "hostname": parts.hostname,
        "port": parts.port or (8883 if tls else 1883),
    }
    if parts.username:
        args["username"] = unquote(parts.username)
        args["password"] = unquote(parts.password) if parts.password else None
    if tls:
        args["tls_context"] = ssl.create_default_context()
    return args


def _default_gateway_id() -> str:
    """``GW-FLEET-<host name>``: stable across restarts, so its retained status is replaced."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname()) or "local"
    return f"GW-FLEET-{host}"


def default_url() -> str:
    """``$ECLOR_MQTT_URL``, else the embedded broker of ``eclor serve`` on this machine."""
    url = os.environ.get("ECLOR_MQTT_URL")
    if url:
        return url
    port = os.environ.get("ECLOR_MQTT_EMBEDDED_PORT") or str(DEFAULT_EMBEDDED_PORT)
    return f"mqtt://127.0.0.1:{port}"


def default_light_ids(count: int, prefix: str = "SL-AUD-") -> list[str]:
    """``SL-AUD-0001`` ... for ``count`` lights."""
    return [f"{prefix}{index:04d}" for index in range(1, count + 1)]


# --------------------------------------------------------------------------- fleet


async def _publish(
    client: aiomqtt.Client,
    topic: str,
    payload: bytes,
    *,
    qos: int,
    retain: bool = False,
    properties: Properties | None = None,
) -> None:
    """``client.publish`` that never loses a cancellation.

    aiomqtt waits for paho's confirmation with ``asyncio.wait_for``, which on
    Python 3.11 swallows a cancellation that arrives as the confirmation does;
    a back-to-back publisher would then never stop. Re-raise it here.
    """
    await client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


# How many commands the simulated fleet handles at once (each device stays in order).
COMMAND_CONCURRENCY = 256


@dataclass
class FleetStats:
    """What the fleet did, for tests and benchmarks."""

    commands_received: int = 0
    commands_applied: int = 0
    duplicates: int = 0
    expired: int = 0
    rejected: int = 0
    acks_sent: int = 0
    telemetry_sent: int = 0
    dropped: int = 0
    connections: int = 0


class Fleet:
    """Streetlights and sensors behind one MQTT 5 connection.

    Args:
        url: broker URL, ``mqtt://host:port``.
        prefix: topic prefix ``{p}``.
        lights: streetlight device ids.
        sensors: sensor device id -> kind (see :data:`SENSOR_KINDS`).
        period: seconds between two telemetry rounds.
        seed: seed of every random choice (values, faults, drops); None: random.
        fault_rate: share of lamps that report ``defectiveLamp`` from the start.
        drop_rate: probability that an ack or a telemetry message is silently lost.
        never_ack: lights that ignore commands (no ack, no change) but keep reporting.
        silent: devices that send nothing at all and ignore commands.
        full_speed: publish telemetry rounds back to back (benchmarks).
        nominal_power_w: lamp power at 100 % (LED, 70 W).
        initial_level: level of every lamp at start; None: 100 between 18:00 and
            07:00 local time, else 0, until the server sends commands.
        gateway_id: id whose status topic carries the connection's last will
            (default ``GW-FLEET-<host name>``).
        client_id: MQTT client id (default derived from the gateway id, with a random
            suffix unless ``session_expiry`` asks for a persistent session).
        keepalive: MQTT keep-alive in seconds.
        reconnect: reconnect with backoff when the connection is lost.
        always_open: waste centres open around the clock (demos at any hour).
        session_expiry: MQTT session expiry; > 0 keeps commands sent while the
            fleet is away (a persistent session).
        username, password: the fleet's MQTT account (a gateway's, see app/mqtt_auth.py);
            with one, it subscribes to each of its lights' command topics, not to all.

    ``lights`` may map each id to its lamp's power (else ``nominal_power_w`` for all).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        prefix: str = DEFAULT_PREFIX,
        *,
        lights: Iterable[str] | Mapping[str, float] = (),
        sensors: Mapping[str, str] | None = None,
        period: float = 10.0,
        seed: int | None = None,
        fault_rate: float = 0.0,
        drop_rate: float = 0.0,
        never_ack: Iterable[str] = (),
        silent: Iterable[str] = (),
        full_speed: bool = False,
        nominal_power_w: float = 70.0,
        initial_level: float | None = None,
        gateway_id: str | None = None,
        client_id: str | None = None,
        keepalive: int = 30,
        reconnect: bool = True,
        always_open: bool = False,
        session_expiry: int = 0,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        if period <= 0:
            raise ValueError("period must be positive")
        if not 0.0 <= fault_rate <= 1.0 or not 0.0 <= drop_rate <= 1.0:
            raise ValueError("fault_rate and drop_rate are probabilities (0..1)")
        self.url = url
        self.prefix = prefix.rstrip("/")
        self.period = period
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self.drop_rate = drop_rate
        self.full_speed = full_speed
        self.keepalive = keepalive
        self.reconnect = reconnect
        self.session_expiry = session_expiry
        self.username, self.password = username, password
        self.gateway_id = gateway_id or _default_gateway_id()
        if client_id is None:
            # A persistent session needs the same id after a restart; otherwise stay unique.
            suffix = "" if session_expiry > 0 else f"-{uuid.uuid4().hex[:8]}"
            client_id = f"eclor-fleet-{self.gateway_id}{suffix}"
        self.client_id = client_id
        self.never_ack = set(never_ack)
        self.silent = set(silent)
        self.stats = FleetStats()
        # Commands of one device are handled in order; devices answer in parallel.
        self._device_locks: dict[str, asyncio.Lock] = {}
        self.ready = asyncio.Event()

        level = initial_level if initial_level is not None else self._default_level()
        fault_rng = random.Random(f"{self.seed}:faults")
        self.lights: dict[str, SimulatedLight] = {}
        powers = lights if isinstance(lights, Mapping) else dict.fromkeys(lights, nominal_power_w)
        for device_id, power in powers.items():
            light = SimulatedLight(
                device_id,
                nominal_w=power,
                defective=fault_rng.random() < fault_rate,
                start_level=level,
                target=level,
            )
            self.lights[device_id] = light
        self.sensors: dict[str, Sensor] = {
            device_id: _make_sensor(
                device_id, kind, random.Random(f"{self.seed}:{device_id}"), always_open
            )
            for device_id, kind in (sensors or {}).items()
        }
        self._sensor_clock: dict[str, float] = {}
        self._drop_rng = random.Random(f"{self.seed}:drops")
        self._json_properties = Properties(PacketTypes.PUBLISH)
        self._json_properties.ContentType = "application/json"
        self._json_properties.PayloadFormatIndicator = 1
        self._client: aiomqtt.Client | None = None
        self._stop_requested: asyncio.Event | None = None
        self._killed = False

    @staticmethod
    def _default_level() -> float:
        hour, _ = _local_hour(datetime.now(UTC))
        return 100.0 if hour >= 18 or hour < 7 else 0.0

    # ---------------------------------------------------------------- topics

    def topic(self, kind: str, device_id: str) -> str:
        """``{p}/{kind}/{id}``, e.g. ``topic("tele/light", "SL-AUD-0001")``."""
        return contract_topic(self.prefix, kind, device_id)

    # ---------------------------------------------------------------- control

    def set_defective(self, device_id: str, defective: bool = True) -> None:
        """Break (or repair) a lamp: status ``defectiveLamp``, standby power only."""
        light = self.lights[device_id]
        light.advance(asyncio.get_running_loop().time())
        light.defective = defective

    def set_silent(self, device_id: str, silent: bool = True) -> None:
        """Make a device go quiet (or speak again) without touching its status."""
        if silent:
            self.silent.add(device_id)
        else:
            self.silent.discard(device_id)

    async def stop(self) -> None:
        """Stop cleanly: every device's status becomes ``"offline"``, then disconnect."""
        self._stop_event().set()

    async def kill(self) -> None:
        """Drop the connection abruptly (no DISCONNECT): the broker publishes the will."""
        self._killed = True
        client = self._client
        if client is not None:
            sock = client._client.socket()
            if isinstance(sock, socket.socket):  # TCP or TLS (never a WebSocket here)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._stop_event().set()

    def _stop_event(self) -> asyncio.Event:
        if self._stop_requested is None:
            self._stop_requested = asyncio.Event()
        return self._stop_requested

    # ---------------------------------------------------------------- main loop

    def _make_client(self) -> aiomqtt.Client:
        properties = None
        if self.session_expiry > 0:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.session_expiry
        options = parse_mqtt_url(self.url)
        if self.username:
            options.update(username=self.username, password=self.password)
        client = aiomqtt.Client(
            **options,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=self.session_expiry <= 0,
            properties=properties,
            keepalive=self.keepalive,
            will=aiomqtt.Will(self.topic("status", self.gateway_id), _OFFLINE, qos=1, retain=True),
            max_queued_incoming_messages=10_000,
        )
        # A fleet answering hundreds of devices at once has many publishes pending.
        client.pending_calls_threshold = COMMAND_CONCURRENCY * 4
        return client

    async def run(self) -> None:
        """Connect and play the fleet until :meth:`stop` or :meth:`kill`."""
        stop = self._stop_event()
        backoff = 1.0
        while not stop.is_set():
            try:
                async with self._make_client() as client:
                    self._client = client
                    self.stats.connections += 1
                    backoff = 1.0
                    await self._serve(client, stop)
            except aiomqtt.MqttError as exc:
                if stop.is_set():
                    break
                if not self.reconnect:
                    raise
                logger.warning("fleet: connection lost (%s); retrying in %.0f s", exc, backoff)
            finally:
                self._client = None
                self.ready.clear()
            if stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, 30.0)
        for light in self.lights.values():
            if light.ramp_task is not None:
                light.ramp_task.cancel()

    async def _serve(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        if self.username and self.lights:  # an account has rights on its own lights only
            ids = list(self.lights)
            for start in range(0, len(ids), 500):
                await client.subscribe(
                    [(self.topic("cmd/light", i), 1) for i in ids[start : start + 500]]
                )
        elif self.lights:
            await client.subscribe(f"{self.prefix}/cmd/light/+", qos=1)
        await self._publish_status(client, _ONLINE)
        logger.info(
            "fleet %s online: %d lights, %d sensors, prefix %s",
            self.gateway_id,
            len(self.lights),
            len(self.sensors),
            self.prefix,
        )
        self.ready.set()
        workers = [
            asyncio.create_task(self._command_loop(client), name="fleet-commands"),
            asyncio.create_task(self._telemetry_loop(client), name="fleet-telemetry"),
        ]
        stopper = asyncio.create_task(stop.wait(), name="fleet-stop")
        try:
            done, _ = await asyncio.wait([*workers, stopper], return_when=asyncio.FIRST_COMPLETED)
            if self._killed:
                # Let the command loop see the dropped connection and consume its error.
                await asyncio.wait([workers[0]], timeout=2.0)
        finally:
            for task in (*workers, stopper):
                task.cancel()
            await asyncio.gather(*workers, stopper, return_exceptions=True)
        for task in done:
            if task is not stopper and not task.cancelled():
                error = task.exception()
                if error is not None:
                    raise error
        if self._killed:
            return
        self.ready.clear()
        await self._publish_status(client, _OFFLINE)
        logger.info("fleet %s stopped", self.gateway_id)

    async def _publish_status(self, client: aiomqtt.Client, payload: bytes) -> None:
        for device_id in (*self.lights, *self.sensors, self.gateway_id):
            await _publish(client, self.topic("status", device_id), payload, qos=1, retain=True)

    async def _send(
        self, client: aiomqtt.Client, topic: str, payload: dict[str, Any], qos: int
    ) -> bool:
        if self.drop_rate and self._drop_rng.random() < self.drop_rate:
            self.stats.dropped += 1
            return False
        body = json.dumps(payload, separators=(",", ":")).encode()
        await _publish(client, topic, body, qos=qos, properties=self._json_properties)
        return True

    # ---------------------------------------------------------------- commands

    async def _command_loop(self, client: aiomqtt.Client) -> None:
        """Answer commands as a fleet of independent devices does: each device in
        order, all devices at once (bounded), so one device's acks never wait for
        another's."""
        slots = asyncio.Semaphore(COMMAND_CONCURRENCY)
        pending: set[asyncio.Task[None]] = set()
        try:
            async for message in client.messages:
                device_id = str(message.topic).rsplit("/", 1)[-1]
                payload = message.payload
                if isinstance(payload, bytes | bytearray):
                    await slots.acquire()
                    task = asyncio.create_task(
                        self._handle_in_order(client, device_id, bytes(payload), slots)
                    )
                    pending.add(task)
                    task.add_done_callback(pending.discard)
        finally:
            for task in pending:
                task.cancel()

    async def _handle_in_order(
        self, client: aiomqtt.Client, device_id: str, raw: bytes, slots: asyncio.Semaphore
    ) -> None:
        try:
            lock = self._device_locks.setdefault(device_id, asyncio.Lock())
            async with lock:
                await self.handle_command(client, device_id, raw)
        except aiomqtt.MqttError as exc:
            logger.warning("fleet: %s could not answer a command: %s", device_id, exc)
        finally:
            slots.release()

    async def handle_command(self, client: aiomqtt.Client, device_id: str, raw: bytes) -> None:
        """Apply one command received on ``{p}/cmd/light/{device_id}``."""
        light = self.lights.get(device_id)
        if light is None:
            return  # another fleet's device
        self.stats.commands_received += 1
        if device_id in self.silent or device_id in self.never_ack:
            return
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            logger.warning("fleet: %s got a command that is not JSON", device_id)
            return
        try:
            parsed = parse_command(data)
            command: Command | None = parsed
            command_id = parsed.command_id
        except CommandRefused as refused:
            if refused.command_id is None:
                logger.warning("fleet: %s got a command without command_id", device_id)
                return
            command, command_id = None, refused.command_id
        loop_now = asyncio.get_running_loop().time()
        previous = light.answers.get(command_id)
        if previous is not None:
            self.stats.duplicates += 1
            await self._ack(client, light, command_id, previous["status"], previous["actual_level"])
            return
        current = round(light.level_at(loop_now))
        if command is not None and command.expires_at is not None:
            if command.expires_at <= datetime.now(UTC):
                self.stats.expired += 1
                await self._ack(client, light, command_id, "expired", current)
                return
        if command is None:
            self.stats.rejected += 1
            await self._ack(client, light, command_id, "rejected", current)
            return
        level, ramp_s = command.level, command.ramp_s
        await self._ack(client, light, command_id, "accepted", current)
        await self._supersede(client, light, loop_now)
        ramp = min(float(ramp_s), MAX_RAMP_S)
        light.set_target(float(level), ramp, loop_now)
        light.active_command = command_id
        self.stats.commands_applied += 1
        if ramp <= 0:
            light.active_command = None
            await self._ack(client, light, command_id, "applied", round(light.target))
        else:
            light.ramp_task = asyncio.create_task(
                self._finish_ramp(client, light, command_id, ramp)
            )

    async def _supersede(self, client: aiomqtt.Client, light: SimulatedLight, t: float) -> None:
        """A new command replaces one still ramping: the old one took effect until now."""
        if light.ramp_task is not None:
            light.ramp_task.cancel()
            light.ramp_task = None
        if light.active_command is not None:
            command_id, light.active_command = light.active_command, None
            await self._ack(client, light, command_id, "applied", round(light.level_at(t)))

    async def _finish_ramp(
        self, client: aiomqtt.Client, light: SimulatedLight, command_id: str, ramp: float
    ) -> None:
        await asyncio.sleep(ramp)
        if light.active_command == command_id:
            light.active_command = None
            light.ramp_task = None
            with contextlib.suppress(aiomqtt.MqttError):
                await self._ack(client, light, command_id, "applied", round(light.target))

    async def _ack(
        self,
        client: aiomqtt.Client,
        light: SimulatedLight,
        command_id: str,
        status: str,
        level: int,
    ) -> None:
        light.remember(command_id, {"status": status, "actual_level": level})
        payload = {
            "command_id": command_id,
            "status": status,
            "actual_level": level,
            "ts": iso(datetime.now(UTC)),
        }
        if await self._send(client, self.topic("ack/light", light.device_id), payload, qos=1):
            self.stats.acks_sent += 1

    # ---------------------------------------------------------------- telemetry

    async def _telemetry_loop(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        next_round = loop.time()
        while True:
            await self.publish_telemetry(client)
            if self.full_speed:
                await asyncio.sleep(0)
                continue
            next_round += self.period
            delay = next_round - loop.time()
            if delay < 0:  # running late: skip the missed rounds
                next_round = loop.time()
                delay = 0.0
            await asyncio.sleep(delay)

    def light_telemetry(self, light: SimulatedLight, t: float, moment: datetime) -> dict[str, Any]:
        """The telemetry payload of one light at loop time ``t``."""
        light.advance(t)
        level = light.level_at(t)
        return {
            "ts": iso(moment),
            "level": round(level),
            "power_w": round(light.power_at(t), 2),
            "energy_wh": round(light.energy_wh, 3),
            "status": "defectiveLamp" if light.defective else "ok",
        }

    async def publish_telemetry(self, client: aiomqtt.Client) -> None:
        """One telemetry round: every light and sensor that is not silent reports once."""
        loop_now = asyncio.get_running_loop().time()
        moment = datetime.now(UTC)
        for device_id, light in self.lights.items():
            if device_id in self.silent:
                light.advance(loop_now)
                continue
            payload = self.light_telemetry(light, loop_now, moment)
            if await self._send(client, self.topic("tele/light", device_id), payload, qos=0):
                self.stats.telemetry_sent += 1
        for device_id, sensor in self.sensors.items():
            last = self._sensor_clock.get(device_id)
            self._sensor_clock[device_id] = loop_now
            elapsed = self.period if last is None else max(loop_now - last, 0.0)
            measures = sensor.measures(moment, elapsed)
            if device_id in self.silent:
                continue
            payload = {"ts": iso(moment), "kind": sensor.kind, **measures}
            if await self._send(client, self.topic("tele/sensor", device_id), payload, qos=0):
                self.stats.telemetry_sent += 1


# --------------------------------------------------------------------------- CLI


def _id_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eclor fleet", description="Simulate Eclor's streetlights and sensors over MQTT."
    )
    parser.add_argument(
        "--url",
        default=default_url(),
        help="broker URL, mqtt://host:port (default: $ECLOR_MQTT_URL, else the "
        "embedded broker of `eclor serve`: %(default)s)",
    )
    parser.add_argument(
        "--prefix",
        default=os.environ.get("ECLOR_MQTT_PREFIX") or DEFAULT_PREFIX,
        help="topic prefix (default: $ECLOR_MQTT_PREFIX or eclor)",
    )
    parser.add_argument("--lights", type=int, default=20, help="number of streetlights")
    parser.add_argument(
        "--light-prefix",
        default="SL-AUD-",
        help="id prefix of generated lights (default %(default)s)",
    )
    parser.add_argument(
        "--light-ids",
        type=_id_list,
        default=None,
        help="comma-separated light ids (replaces --lights)",
    )
    parser.add_argument(
        "--sensors",
        default="demo",
        help=f"'demo', 'none', a count, or ID:kind,... (kinds: {', '.join(SENSOR_KINDS)})",
    )
    parser.add_argument("--period", type=float, default=10.0, help="telemetry period, seconds")
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible runs")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of defective lamps")
    parser.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        help="probability that an ack or telemetry message is lost",
    )
    parser.add_argument("--never-ack", type=_id_list, default=[], help="lights that never ack")
    parser.add_argument("--silent", type=_id_list, default=[], help="devices that send nothing")
    parser.add_argument("--nominal-power", type=float, default=70.0, help="lamp power in W")
    parser.add_argument("--gateway-id", default=None, help="id of the fleet's own status topic")
    parser.add_argument(
        "--always-open", action="store_true", help="waste centres open around the clock"
    )
    parser.add_argument(
        "--full-speed", action="store_true", help="telemetry back to back (benchmarks)"
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="stop cleanly after this many seconds"
    )
    parser.add_argument("--verbose", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``eclor fleet``: run the simulator until Ctrl-C, SIGTERM or ``--duration``."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        sensors = parse_sensor_spec(args.sensors)
        parse_mqtt_url(args.url)
    except ValueError as exc:
        print(f"eclor fleet: {exc}")
        return 2
    lights = args.light_ids if args.light_ids else default_light_ids(args.lights, args.light_prefix)

    async def play() -> None:
        fleet = Fleet(
            args.url,
            args.prefix,
            lights=lights,
            sensors=sensors,
            period=args.period,
            seed=args.seed,
            fault_rate=args.fault_rate,
            drop_rate=args.drop_rate,
            never_ack=args.never_ack,
            silent=args.silent,
            full_speed=args.full_speed,
            nominal_power_w=args.nominal_power,
            gateway_id=args.gateway_id,
            always_open=args.always_open,
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Signal handlers: not on Windows' loop, nor outside the main thread.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, lambda: asyncio.ensure_future(fleet.stop()))
        if args.duration is not None:
            loop.call_later(args.duration, lambda: asyncio.ensure_future(fleet.stop()))
        await fleet.run()
        logger.info("fleet stats: %s", fleet.stats)

    try:
        asyncio.run(play())
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
