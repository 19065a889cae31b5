"""Push fan-out benchmark: one alert to N subscriptions through a local push service.

Run from the repository root::

    .venv/bin/python bench/push_fanout.py            # 50,000 subscriptions
    .venv/bin/python bench/push_fanout.py --count 5000 --no-write

What it measures, in one run:

1. baselines: encrypting the same N messages without sending them
   (``app.push.encrypt_payload``), and ``pywebpush.WebPusher(...).encode()`` on a
   sample, i.e. what ``pywebpush`` spends per message before any network;
2. the fan-out: ``PushSender.iter_send`` to N subscriptions on the local
   receiver (``tests/pushreceiver.py``, its own process), which verifies the
   VAPID token and decrypts every message; the sender's RSS is sampled during
   the run to show it stays flat.

It then checks with the receiver that every subscription got exactly one
message, verified and decrypted to the payload sent, prints the figures and
the ratios, and rewrites the "Push fan-out" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cryptography
from py_vapid import Vapid
from pywebpush import WebPusher

from app.push import (
    Outcome,
    PushSender,
    PushSubscriptionInfo,
    encode_payload,
    encrypt_payload,
    generate_vapid_keys,
)
from bench.report import write_section
from tests.pushreceiver import PushReceiver

HEADING = "## Push fan-out"
PAYLOAD = {
    "title": "Alerte crue — Audun-le-Tiche",
    "body": "Vigilance orange crues sur l'Alzette : évitez les berges jusqu'à demain 18 h.",
    "url": "/alerts/2026-0117",
    "topic": "meteo",
    "communes": ["57038", "57602"],
}


def rss_mib() -> float:
    """Current resident set size of this process, in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def sample_rss(samples: list[tuple[float, float]], start: float, period: float) -> None:
    """Append ``(seconds since start, RSS MiB)`` every ``period`` seconds until cancelled."""
    while True:
        samples.append((time.perf_counter() - start, rss_mib()))
        await asyncio.sleep(period)


async def fan_out(
    subscriptions: list[PushSubscriptionInfo],
    vapid_private_key: str,
    plaintext: bytes,
    concurrency: int,
) -> tuple[float, collections.Counter[str], list[tuple[float, float]]]:
    """Send ``plaintext`` to every subscription; return seconds, outcome counts, RSS samples."""
    outcomes: collections.Counter[str] = collections.Counter()
    samples: list[tuple[float, float]] = []
    async with PushSender(
        vapid_private_key, "mailto:exploitation@eclor.fr", max_in_flight=concurrency
    ) as sender:
        start = time.perf_counter()
        sampler = asyncio.create_task(sample_rss(samples, start, 0.25))
        async for _subscription, outcome in sender.iter_send(
            subscriptions, plaintext, ttl=3600, urgency="high", topic="crue-alzette"
        ):
            outcomes[outcome.kind.value] += 1
        elapsed = time.perf_counter() - start
        sampler.cancel()
        samples.append((elapsed, rss_mib()))
    return elapsed, outcomes, samples


def encrypt_all(subscriptions: list[PushSubscriptionInfo], plaintext: bytes) -> float:
    """Seconds to encrypt ``plaintext`` once for each subscription, without sending."""
    start = time.perf_counter()
    for subscription in subscriptions:
        encrypt_payload(subscription, plaintext)
    return time.perf_counter() - start


def compare_with_pywebpush(
    subscriptions: list[PushSubscriptionInfo],
    subscription_jsons: list[dict[str, Any]],
    plaintext: bytes,
    vapid_private_key: str,
    aud: str,
    chunk: int = 250,
) -> tuple[float, float, float]:
    """Seconds for three ways of preparing the same messages, interleaved by chunks.

    Returns ``(app.push encrypt_payload, pywebpush WebPusher.encode, pywebpush
    webpush() per-call work)``. The last one is what ``webpush()`` does for every
    message before the network: parse the VAPID key string, sign a JWT, build a
    ``WebPusher`` (deep copy, key decoding) and encrypt. Interleaving keeps the
    three measures under the same machine load.
    """
    ours = encode = per_call = 0.0
    for start in range(0, len(subscription_jsons), chunk):
        jsons = subscription_jsons[start : start + chunk]
        infos = subscriptions[start : start + chunk]
        t0 = time.perf_counter()
        for info in infos:
            encrypt_payload(info, plaintext)
        t1 = time.perf_counter()
        for subscription in jsons:
            WebPusher(subscription).encode(plaintext, "aes128gcm")
        t2 = time.perf_counter()
        for subscription in jsons:
            vapid = Vapid.from_string(private_key=vapid_private_key)
            claims = {
                "sub": "mailto:exploitation@eclor.fr",
                "aud": aud,
                "exp": int(time.time()) + 43200,
            }
            vapid.sign(claims)
            WebPusher(subscription).encode(plaintext, "aes128gcm")
        t3 = time.perf_counter()
        ours, encode, per_call = ours + t1 - t0, encode + t2 - t1, per_call + t3 - t2
    return ours, encode, per_call


def main() -> int:
    """Run the benchmark; exit status 1 if any message was lost or unverified."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=50_000, help="subscriptions (50000)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight (64)")
    parser.add_argument(
        "--pywebpush-sample", type=int, default=5_000, help="messages for the pywebpush baseline"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()

    count = args.count
    plaintext = encode_payload(PAYLOAD)
    vapid_private_key, _ = generate_vapid_keys()
    print(
        f"push fan-out: {count} subscriptions, payload {len(plaintext)} bytes, "
        f"concurrency {args.concurrency}, {os.cpu_count()} CPUs"
    )

    with PushReceiver(mode="summary") as receiver:
        start = time.perf_counter()
        made = receiver.make_subscription_jsons([f"s{i}" for i in range(count)])
        setup_s = time.perf_counter() - start
        start = time.perf_counter()
        subscriptions = [
            PushSubscriptionInfo.from_json(json, allow_insecure_loopback=True) for json in made
        ]
        parse_s = time.perf_counter() - start
        sample_json = made[: min(args.pywebpush_sample, count)]
        del made
        print(
            f"setup: {count} key pairs registered in {setup_s:.1f} s; "
            f"validated {count} subscriptions in {parse_s:.2f} s"
        )

        encrypt_s = encrypt_all(subscriptions, plaintext)
        encrypt_rate = count / encrypt_s
        print(
            f"encryption only (app.push): {count} in {encrypt_s:.2f} s = "
            f"{encrypt_rate:,.0f} msg/s ({1e6 / encrypt_rate:.0f} µs each)"
        )
        sample = len(sample_json)
        ours_s, pywebpush_s, per_call_s = compare_with_pywebpush(
            subscriptions[:sample], sample_json, plaintext, vapid_private_key, receiver.origin
        )
        ours_rate, pywebpush_rate, per_call_rate = (
            sample / ours_s,
            sample / pywebpush_s,
            sample / per_call_s,
        )
        print(
            f"same {sample} messages, interleaved: encrypt_payload {1e6 / ours_rate:.0f} µs, "
            f"pywebpush WebPusher.encode {1e6 / pywebpush_rate:.0f} µs "
            f"(ratio {ours_rate / pywebpush_rate:.2f}), pywebpush webpush() per-call work "
            f"(key parse + JWT sign + encode) {1e6 / per_call_rate:.0f} µs "
            f"(ratio {ours_rate / per_call_rate:.2f})"
        )

        load_before = os.getloadavg()[0]
        rss_before = rss_mib()
        cpu_before, receiver_cpu_before = time.process_time(), receiver.cpu_seconds()
        elapsed, outcomes, samples = asyncio.run(
            fan_out(subscriptions, vapid_private_key, plaintext, args.concurrency)
        )
        sender_cpu = time.process_time() - cpu_before
        receiver_cpu = receiver.cpu_seconds() - receiver_cpu_before
        stats = receiver.stats()

    rate = count / elapsed
    rss_values = [rss for _, rss in samples]
    expected_digest = hashlib.sha256(plaintext).hexdigest()
    checks = {
        "all delivered": outcomes.get(Outcome.DELIVERED.value, 0) == count,
        "all verified by the receiver": stats["verified"] == count and stats["errors"] == 0,
        "each subscription exactly once": (
            stats["distinct_subscriptions"] == count and stats["max_per_subscription"] == 1
        ),
        "every payload decrypted intact": stats["payload_digests"] == {expected_digest: count},
    }
    ok = all(checks.values())
    receiver_span = (stats["last_at"] or 0) - (stats["first_at"] or 0)
    print(f"fan-out: {count} in {elapsed:.2f} s = {rate:,.0f} msg/s; outcomes {dict(outcomes)}")
    print(
        f"receiver: {stats['verified']} verified and decrypted, {stats['errors']} errors, "
        f"{stats['distinct_vapid_tokens']} distinct VAPID token(s), span {receiver_span:.2f} s"
    )
    print(
        f"sender RSS: {rss_before:.0f} MiB before; during run min {min(rss_values):.0f} / "
        f"max {max(rss_values):.0f} MiB over {len(samples)} samples; "
        f"peak RSS {peak_rss_mib():.0f} MiB"
    )
    load_after = os.getloadavg()[0]
    print(
        f"machine load average (1 min) before / after the fan-out: "
        f"{load_before:.2f} / {load_after:.2f} on {os.cpu_count()} CPUs; above 2 the sender "
        f"and receiver share the CPUs with other work and the wall time grows"
    )
    print(
        f"CPU during the fan-out: sender {sender_cpu:.1f} s ({1e6 * sender_cpu / count:.0f} µs/msg), "
        f"receiver {receiver_cpu:.1f} s ({1e6 * receiver_cpu / count:.0f} µs/msg)"
    )
    print(f"ratio fan-out / encryption-only rate: {rate / encrypt_rate:.2f}")
    for name, passed in checks.items():
        print(f"  [{'ok' if passed else 'FAILED'}] {name}")
    if elapsed > 60:
        print("  [SLOW] over the 60 s target")

    if not args.no_write:
        deciles = [samples[round(i * (len(samples) - 1) / 10)] for i in range(11)]
        curve = ", ".join(f"{t:.0f} s: {rss:.0f}" for t, rss in deciles)
        section = f"""{HEADING}

`.venv/bin/python bench/push_fanout.py` — one alert ({len(plaintext)}-byte JSON) to
{count:,} subscriptions on the local push service (`tests/pushreceiver.py`, own
process), which verifies the VAPID token and decrypts every message;
{args.concurrency} requests in flight over pooled HTTP/1.1 connections.
Machine: {os.cpu_count()} CPUs, Python {platform.python_version()},
cryptography {cryptography.__version__}; measured {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}.

| figure | value |
|---|---|
| fan-out, {count:,} messages | {elapsed:.1f} s, {rate:,.0f} msg/s |
| outcomes | {", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items()))} |
| receiver: verified and decrypted, errors | {stats["verified"]:,}, {stats["errors"]} |
| each subscription exactly once, payload intact | {"yes" if ok else "NO"} |
| CPU during the fan-out: sender / receiver | {sender_cpu:.1f} s ({1e6 * sender_cpu / count:.0f} µs/msg) / {receiver_cpu:.1f} s ({1e6 * receiver_cpu / count:.0f} µs/msg) |
| load average (1 min) before / after the fan-out | {load_before:.2f} / {load_after:.2f} |
| VAPID tokens signed (one per origin, reused) | {stats["distinct_vapid_tokens"]} |
| baseline: encryption only (`encrypt_payload`), same {count:,} messages | {encrypt_s:.1f} s, {encrypt_rate:,.0f} msg/s ({1e6 / encrypt_rate:.0f} µs each) |
| ratio fan-out rate / encryption-only rate | {rate / encrypt_rate:.2f} |
| same {sample:,} messages, interleaved: `encrypt_payload` | {ours_rate:,.0f} msg/s ({1e6 / ours_rate:.0f} µs each) |
| baseline: `pywebpush.WebPusher(...).encode()` | {pywebpush_rate:,.0f} msg/s ({1e6 / pywebpush_rate:.0f} µs each) |
| ratio `encrypt_payload` / `WebPusher.encode` rate | {ours_rate / pywebpush_rate:.2f} |
| baseline: `pywebpush.webpush()` per-call work without HTTP (key parse, JWT sign, encode) | {per_call_rate:,.0f} msg/s ({1e6 / per_call_rate:.0f} µs each) |
| ratio `encrypt_payload` / `webpush()` per-call work rate | {ours_rate / per_call_rate:.2f} |
| sender RSS before the run | {rss_before:.0f} MiB |
| sender RSS during the run (min / max of {len(samples)} samples) | {min(rss_values):.0f} / {max(rss_values):.0f} MiB |
| sender RSS over time (MiB) | {curve} |
| sender peak RSS (whole process, incl. setup) | {peak_rss_mib():.0f} MiB |
"""
        print(f"wrote {write_section(HEADING, section).relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
