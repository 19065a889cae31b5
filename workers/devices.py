"""The simulated devices of the fleet (``workers.fleet``): streetlights that ramp and meter their
energy, and sensors (a waste centre's gates, traffic counters, air quality, bin fill levels)."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.lighting import messages

STANDBY_W = messages.STANDBY_W
DRIVER_FLOOR = 0.10
REMEMBERED_COMMANDS = 512
SENSOR_KINDS = (
    "waste_centre",
    "traffic",
    "air_quality",
    "fill_level",
    "solar",
    "water_meter",
    "energy_meter",
    "counter",
)
_SENSOR_ID_PREFIX = {
    "waste_centre": "WC",
    "traffic": "TR",
    "air_quality": "AQ",
    "fill_level": "FL",
    "solar": "PV",
    "water_meter": "EAU",
    "energy_meter": "NRJ",
    "counter": "CPT",
}

try:
    _LOCAL_TZ: Any = ZoneInfo("Europe/Paris")
except ZoneInfoNotFoundError:  # no tz database: simulate on UTC
    _LOCAL_TZ = UTC


def light_power_w(level: float, nominal_w: float, *, defective: bool = False) -> float:
    """Electrical power of a lamp at ``level`` (0..100): driver floor while lit, standby."""
    if defective or level <= 0:
        return STANDBY_W
    return STANDBY_W + nominal_w * max(level / 100.0, DRIVER_FLOOR)


# --------------------------------------------------------------------------- lights


@dataclass
class SimulatedLight:
    """One streetlight: the level it ramps to, its energy meter and the commands it saw."""

    device_id: str
    nominal_w: float = 70.0
    defective: bool = False
    start_level: float = 0.0
    target: float = 0.0
    ramp_from: float = 0.0
    ramp_to: float = 0.0
    energy_wh: float = 0.0
    metered_until: float | None = None
    active_command: str | None = None
    ramp_task: asyncio.Task[None] | None = None
    answers: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)

    def level_at(self, t: float) -> float:
        """Light level (0..100) at event-loop time ``t``."""
        if t >= self.ramp_to or self.ramp_to <= self.ramp_from:
            return self.target
        if t <= self.ramp_from:
            return self.start_level
        share = (t - self.ramp_from) / (self.ramp_to - self.ramp_from)
        return self.start_level + (self.target - self.start_level) * share

    def power_at(self, t: float) -> float:
        return light_power_w(self.level_at(t), self.nominal_w, defective=self.defective)

    def advance(self, t: float) -> None:
        """Integrate energy up to ``t`` (Simpson's rule on each linear piece of the ramp)."""
        since = self.metered_until
        self.metered_until = t
        if since is None or t <= since:
            return
        cuts = [since]
        if since < self.ramp_to < t:
            cuts.append(self.ramp_to)
        cuts.append(t)
        for a, b in itertools.pairwise(cuts):
            mean_power = (self.power_at(a) + 4 * self.power_at((a + b) / 2) + self.power_at(b)) / 6
            self.energy_wh += mean_power * (b - a) / 3600.0

    def set_target(self, level: float, ramp_s: float, t: float) -> None:
        """Start ramping from the current level to ``level`` over ``ramp_s`` seconds."""
        self.advance(t)
        self.start_level = self.level_at(t)
        self.target = level
        self.ramp_from = t
        self.ramp_to = t + ramp_s

    def remember(self, command_id: str, answer: dict[str, Any]) -> None:
        """Keep the latest answer to a command (bounded memory, oldest forgotten first)."""
        self.answers[command_id] = answer
        self.answers.move_to_end(command_id)
        while len(self.answers) > REMEMBERED_COMMANDS:
            self.answers.popitem(last=False)


# --------------------------------------------------------------------------- sensors


def _local_hour(moment: datetime) -> tuple[float, int]:
    local = moment.astimezone(_LOCAL_TZ)
    return local.hour + local.minute / 60.0, local.weekday()


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    threshold, count, product = math.exp(-mean), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def _commute_factor(hour: float, weekday: int) -> float:
    """Relative cross-border traffic (1.0 at the morning peak towards Luxembourg)."""
    weekend = weekday >= 5
    morning = math.exp(-((hour - 7.3) ** 2) / 1.2)
    evening = 0.85 * math.exp(-((hour - 17.5) ** 2) / 1.8)
    day = 0.35 if 6 <= hour <= 21 else 0.05
    factor = max(morning + evening, day)
    return factor * (0.45 if weekend else 1.0)


class Sensor(ABC):
    """A simulated sensor: ``measures()`` returns its next reading."""

    kind = ""

    def __init__(self, device_id: str, rng: random.Random) -> None:
        self.device_id = device_id
        self.rng = rng

    @abstractmethod
    def measures(self, moment: datetime, elapsed_s: float) -> dict[str, Any]:
        """The sensor's measures at ``moment`` (``elapsed_s`` since the last reading)."""


class WasteCentreGate(Sensor):
    """Counting gates at a waste centre: vehicles queue, take one of the bays, leave.

    Open Monday to Saturday 9:00-18:00 local time (always, with ``always_open``),
    about 30 vehicles an hour on weekdays and 42 on Saturdays, 15 min on site.
    """

    kind = "waste_centre"

    def __init__(
        self, device_id: str, rng: random.Random, *, bays: int = 12, always_open: bool = False
    ) -> None:
        super().__init__(device_id, rng)
        self.bays = bays
        self.always_open = always_open
        self.dwell_s = 15 * 60.0
        self.arrivals = self.admissions = self.exits = 0
        self.queue = self.on_site = 0

    def arrival_rate_per_h(self, moment: datetime) -> float:
        hour, weekday = _local_hour(moment)
        if self.always_open:
            return 30.0
        if weekday == 6 or not 9 <= hour < 18:
            return 0.0
        return 42.0 if weekday == 5 else 30.0

    def measures(self, moment: datetime, elapsed_s: float) -> dict[str, Any]:
        rng = self.rng
        arrived = _poisson(rng, self.arrival_rate_per_h(moment) * elapsed_s / 3600.0)
        leave_p = 1.0 - math.exp(-elapsed_s / self.dwell_s)
        left = sum(1 for _ in range(self.on_site) if rng.random() < leave_p)
        self.on_site -= left
        self.queue += arrived
        admitted = min(self.queue, self.bays - self.on_site)
        self.queue -= admitted
        self.on_site += admitted
        self.arrivals += arrived
        self.admissions += admitted
        self.exits += left
        return {
            "arrivals": self.arrivals,
            "admissions": self.admissions,
            "exits": self.exits,
            "bays": self.bays,
        }


class TrafficCounter(Sensor):
    """Traffic at a border crossing (Smart Data Models ``TrafficFlowObserved`` measures)."""

    kind = "traffic"

    def __init__(self, device_id: str, rng: random.Random, *, capacity_per_h: float = 1500.0):
        super().__init__(device_id, rng)
        self.capacity_per_h = capacity_per_h
        self.peak_per_h = capacity_per_h * rng.uniform(0.75, 0.95)
        self.free_speed = rng.uniform(60.0, 75.0)

    def measures(self, moment: datetime, elapsed_s: float) -> dict[str, Any]:
        rng = self.rng
        hour, weekday = _local_hour(moment)
        flow = self.peak_per_h * _commute_factor(hour, weekday) * rng.uniform(0.9, 1.1)
        ratio = min(flow / self.capacity_per_h, 1.2)
        speed = max(8.0, self.free_speed * (1.0 - 0.8 * ratio**4) + rng.gauss(0, 2.0))
        occupancy = min(0.98, max(0.0, 0.04 + 0.55 * ratio**2 + rng.gauss(0, 0.01)))
        return {
            "intensity": _poisson(rng, flow * elapsed_s / 3600.0),
            "occupancy": round(occupancy, 3),
            "averageVehicleSpeed": round(speed, 1),
            "congested": ratio > 0.8 or speed < 30.0,
        }


class AirQualityStation(Sensor):
    """Air quality near a road: NO2 follows traffic, O3 follows the sun (µg/m³)."""

    kind = "air_quality"

    def __init__(self, device_id: str, rng: random.Random) -> None:
        super().__init__(device_id, rng)
        self.values = {"no2": 20.0, "pm10": 18.0, "pm25": 10.0, "o3": 45.0}

    def measures(self, moment: datetime, elapsed_s: float) -> dict[str, Any]:
        rng = self.rng
        hour, weekday = _local_hour(moment)
        traffic = _commute_factor(hour, weekday)
        sun = max(0.0, math.sin(math.pi * (hour - 6.0) / 14.0)) if 6 <= hour <= 20 else 0.0
        targets = {
            "no2": 12.0 + 35.0 * traffic,
            "pm10": 15.0 + 10.0 * traffic,
            "pm25": 8.0 + 6.0 * traffic,
            "o3": 30.0 + 60.0 * sun - 10.0 * traffic,
        }
        blend = 1.0 - math.exp(-elapsed_s / 900.0)
        for name, target in targets.items():
            value = self.values[name] + (target - self.values[name]) * blend
            value += rng.gauss(0, 0.6)
            self.values[name] = max(0.5, value)
        self.values["pm25"] = min(self.values["pm25"], self.values["pm10"])
        return {name: round(value, 1) for name, value in self.values.items()}


class FillLevelSensor(Sensor):
    """A bin's fill level: fills over a few days, emptied by a collection round."""

    kind = "fill_level"

    def __init__(self, device_id: str, rng: random.Random) -> None:
        super().__init__(device_id, rng)
        self.level = rng.uniform(0.0, 0.8)
        self.fill_per_h = 1.0 / (24.0 * rng.uniform(2.0, 5.0))

    def measures(self, moment: datetime, elapsed_s: float) -> dict[str, Any]:
        rng = self.rng
        hours = elapsed_s / 3600.0
        self.level = min(1.0, self.level + self.fill_per_h * hours * rng.uniform(0.5, 1.5))
        if self.level >= 0.85 and rng.random() < 1.0 - math.exp(-0.3 * hours):
            self.level = rng.uniform(0.0, 0.05)
        return {"fillingLevel": round(self.level, 3)}


def _sun(moment: datetime) -> float:
    """0 at night, 1 at a June noon: a clear sky's share of the peak, roughly (the server's pvlib
    model is the reference; this only has to look like a day)."""
    hour, _ = _local_hour(moment)
    day = moment.timetuple().tm_yday
    length = 12.0 + 4.2 * math.sin(2 * math.pi * (day - 80) / 365.0)  # hours of daylight
    noon = 13.5 if 90 <= day <= 300 else 12.5  # solar noon in local time, summer or winter
    x = (hour - noon) / (length / 2)
    if abs(x) >= 1:
        return 0.0
    height = 0.55 + 0.45 * math.sin(2 * math.pi * (day - 80) / 365.0)
    return max(0.0, math.cos(x * math.pi / 2) ** 1.5 * height)


class SolarSite(Sensor):
    """Solar panels on a public building: power with passing clouds, a production counter."""

    kind = "solar"

    def __init__(self, device_id: str, rng: random.Random, *, peak_w: float = 9000.0) -> None:
        super().__init__(device_id, rng)
        self.peak_w = peak_w
        self.energy_wh = rng.uniform(1e6, 3e7)
        self.cloud = 1.0

    def measures(self, moment: datetime, elapsed_s: float) -> dict[str, Any]:
        rng = self.rng
        self.cloud = min(1.0, max(0.2, self.cloud + rng.gauss(0, 0.08)))
        power = 0.8 * self.peak_w * _sun(moment) * self.cloud
        self.energy_wh += power * elapsed_s / 3600.0
        return {
            "power_w": round(power, 1),
            "energy_wh": round(self.energy_wh),
            "temperature": round(12.0 + 30.0 * power / self.peak_w + rng.gauss(0, 0.5), 1),
        }


class WaterMeter(Sensor):
    """A building's water meter: use by day, none at night, unless the building leaks."""

    kind = "water_meter"

    def __init__(self, device_id: str, rng: random.Random, *, leak_l_h: float = 0.0) -> None:
        super().__init__(device_id, rng)
        self.volume_l = rng.uniform(1e5, 5e6)
        self.leak_l_h = leak_l_h

    def measures(self, moment: datetime, elapsed_s: float) -> dict[str, Any]:
        hour, weekday = _local_hour(moment)
        busy = 7 <= hour <= 19 and weekday < 5
        flow = (self.rng.uniform(50, 400) if busy else 0.0) + self.leak_l_h
        self.volume_l += flow * elapsed_s / 3600.0
        return {"volume_l": round(self.volume_l), "flow": round(flow, 1)}


class EnergyMeter(Sensor):
    """A building's electricity, gas or heat meter: power by occupancy, an index in kWh."""

    kind = "energy_meter"

    def __init__(self, device_id: str, rng: random.Random) -> None:
        super().__init__(device_id, rng)
        self.energy_kwh = rng.uniform(1e4, 5e5)
        self.base_w = rng.uniform(800, 3000)

    def measures(self, moment: datetime, elapsed_s: float) -> dict[str, Any]:
        hour, weekday = _local_hour(moment)
        busy = 7 <= hour <= 19 and weekday < 5
        power = self.base_w * (3.0 if busy else 1.0) * self.rng.uniform(0.9, 1.1)
        self.energy_kwh += power * elapsed_s / 3.6e6
        return {"energy_kwh": round(self.energy_kwh, 2), "power_w": round(power, 1)}


class CountingDevice(Sensor):
    """A Telraam-style counter: passages per class and direction since the last reading (no image)."""

    kind = "counter"
    PEAKS = {"pedestrian": 120.0, "bike": 40.0, "car": 400.0, "truck": 25.0}  # an hour, each way

    def measures(self, moment: datetime, elapsed_s: float) -> dict[str, Any]:
        rng = self.rng
        hour, weekday = _local_hour(moment)
        factor = _commute_factor(hour, weekday)
        counts = {
            name: {
                way: _poisson(
                    rng, peak * factor * elapsed_s / 3600.0 * (1.0 if way == "in" else 0.8)
                )
                for way in ("in", "out")
            }
            for name, peak in self.PEAKS.items()
        }
        return {"counts": counts}


def _make_sensor(device_id: str, kind: str, rng: random.Random, always_open: bool) -> Sensor:
    if kind == "waste_centre":
        return WasteCentreGate(device_id, rng, always_open=always_open)
    if kind == "traffic":
        return TrafficCounter(device_id, rng)
    if kind == "air_quality":
        return AirQualityStation(device_id, rng)
    if kind == "fill_level":
        return FillLevelSensor(device_id, rng)
    if kind == "solar":
        return SolarSite(device_id, rng)
    if kind == "water_meter":
        return WaterMeter(device_id, rng)
    if kind == "energy_meter":
        return EnergyMeter(device_id, rng)
    if kind == "counter":
        return CountingDevice(device_id, rng)
    raise ValueError(f"unknown sensor kind {kind!r} (one of {', '.join(SENSOR_KINDS)})")


def demo_sensors() -> dict[str, str]:
    """The territory's demo sensors: a waste centre, three border crossings, air, bins."""
    return {
        "WC-AUD-01": "waste_centre",
        "TR-AUD-01": "traffic",  # Audun-le-Tiche <-> Esch-sur-Alzette
        "TR-RUS-01": "traffic",  # Russange <-> Belval
        "TR-RED-01": "traffic",  # Rédange <-> Belvaux
        "AQ-VIL-01": "air_quality",
        "FL-AUD-0001": "fill_level",
        "FL-VIL-0001": "fill_level",
        "FL-THI-0001": "fill_level",
        "PV-AUD-MAIRIE": "solar",
        "PV-VIL-GYMNASE": "solar",
        "EAU-AUD-GYMNASE": "water_meter",
        "EAU-VIL-ECOLE": "water_meter",
        "NRJ-AUD-MAIRIE": "energy_meter",
        "CPT-AUD-CENTRE": "counter",
        "CPT-RUS-BELVAL": "counter",
    }


def parse_sensor_spec(spec: str) -> dict[str, str]:
    """``demo``, ``none``, a count (kinds in turn) or ``ID:kind,ID:kind``."""
    spec = spec.strip()
    if spec in ("", "none", "0"):
        return {}
    if spec == "demo":
        return demo_sensors()
    if spec.isdigit():
        counters: dict[str, int] = {}
        sensors: dict[str, str] = {}
        for index in range(int(spec)):
            kind = SENSOR_KINDS[index % len(SENSOR_KINDS)]
            counters[kind] = counters.get(kind, 0) + 1
            sensors[f"{_SENSOR_ID_PREFIX[kind]}-SIM-{counters[kind]:04d}"] = kind
        return sensors
    sensors = {}
    for item in spec.split(","):
        device_id, sep, kind = item.strip().partition(":")
        if not sep or not device_id or kind not in SENSOR_KINDS:
            raise ValueError(f"bad sensor {item!r}: expected ID:kind with kind in {SENSOR_KINDS}")
        sensors[device_id] = kind
    return sensors
