"""Photo benchmark: Eclor's ``app.images.process`` against a plain Pillow decode + save.

Run from the repository root::

    .venv/bin/python bench/photos.py              # 3 rounds x 5 timed runs per case
    .venv/bin/python bench/photos.py --rounds 1 --no-write

What it measures, in one run:

1. It builds a 12-megapixel JPEG (4000 x 3000) in memory: a street scene
   made of a sky gradient, blotchy ground, boxes and bags, softened like a
   lens and covered with sensor noise, saved at quality 92 with EXIF as a
   phone writes it (make, model, capture time, GPS). It is written once to a
   temporary file so that every case reads the same bytes.
2. Each case runs in its own fresh interpreter (``--case``), which imports
   the same modules, reads the file, does one untimed warm-up run and then
   the timed runs (cases take turns over several rounds, and the median of
   all runs is kept), and reports its peak resident memory (``VmHWM``, the
   kernel's high-water mark of the process's RSS: it sees Pillow's C
   allocations, which tracemalloc does not). The ``idle`` case does
   everything but the work, so the delta over it is what the work needs.

   - ``baseline``: ``Image.open(...).load()`` then ``save`` as JPEG quality
     80, at full size: the least any photo pipeline does.
   - ``eclor``: ``app.images.process`` (checks, EXIF, draft decode,
     orientation, sRGB, display + thumbnail JPEGs, SHA-256).
   - ``eclor-full-decode``: the same with the JPEG draft disabled, to show
     what decoding at reduced scale buys.

It prints a table and the ratios, checks the targets (Eclor at most 2x the
baseline's time, peak RSS under 300 MiB) and rewrites the "Photos" section of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import PIL
import pillow_heif
from PIL import ExifTags, Image, ImageDraw, ImageFilter, ImageOps, TiffImagePlugin

from app import images
from bench.report import write_section

HEADING = "## Photos"
SIZE = (4000, 3000)
SOURCE_QUALITY = 92
BASELINE_QUALITY = 80
TIME_RATIO_TARGET = 2.0
PEAK_RSS_TARGET_MIB = 300.0
CASES = ("idle", "baseline", "eclor", "eclor-full-decode")


# --------------------------------------------------------------------------
# The test photo


def street_photo(size: tuple[int, int] = SIZE, seed: int = 2026) -> Image.Image:
    """A deterministic stand-in for a phone photo of a dump site: structure, edges and noise."""
    rng = random.Random(seed)
    width, height = size
    horizon = height * 2 // 5

    sky = ImageOps.colorize(
        Image.linear_gradient("L").resize((width, horizon)), (70, 120, 200), (205, 225, 245)
    )
    ground_texture = Image.effect_noise((width // 3, (height - horizon) // 3), 60).resize(
        (width, height - horizon), Image.Resampling.BICUBIC
    )
    ground = ImageOps.colorize(ground_texture, (55, 60, 35), (150, 140, 110))
    scene = Image.new("RGB", size)
    scene.paste(sky, (0, 0))
    scene.paste(ground, (0, horizon))

    draw = ImageDraw.Draw(scene)
    for _ in range(12):  # buildings on the horizon
        left = rng.randrange(0, width)
        top = horizon - rng.randrange(150, 700)
        shade = rng.randrange(90, 200)
        draw.rectangle((left, top, left + rng.randrange(200, 600), horizon), fill=(shade,) * 3)
        for _ in range(20):  # windows
            x = left + rng.randrange(10, 180)
            y = top + rng.randrange(10, max(11, horizon - top - 40))
            draw.rectangle((x, y, x + 30, y + 40), fill=(40, 50, 70))
    for _ in range(60):  # boxes, bags, a mattress
        x = rng.randrange(0, width)
        y = rng.randrange(horizon, height)
        w, h = rng.randrange(60, 500), rng.randrange(40, 300)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.rectangle((x, y, x + w, y + h), fill=colour, outline=(20, 20, 20), width=4)
        else:
            draw.ellipse((x, y, x + w, y + h), fill=colour)

    scene = scene.filter(ImageFilter.GaussianBlur(0.5))  # lens softness
    noise = Image.merge("RGB", [Image.effect_noise(size, 24) for _ in range(3)])
    return Image.blend(scene, noise, 0.16)  # sensor noise


def phone_exif() -> Image.Exif:
    """EXIF as a phone writes it: make, model, capture time and GPS (Villerupt)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Eclor"
    exif[ExifTags.Base.Model] = "Bench Phone"
    exif[ExifTags.Base.Orientation] = 1
    tags = exif.get_ifd(ExifTags.IFD.Exif)
    tags[ExifTags.Base.DateTimeOriginal] = "2026:11:02 09:41:07"
    tags[ExifTags.Base.OffsetTimeOriginal] = "+01:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = tuple(
        TiffImagePlugin.IFDRational(n, d) for n, d in ((49, 1), (28, 1), (12, 1))
    )
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = tuple(
        TiffImagePlugin.IFDRational(n, d) for n, d in ((5, 1), (55, 1), (44, 1))
    )
    return exif


def make_jpeg() -> bytes:
    buffer = io.BytesIO()
    street_photo().save(buffer, "JPEG", quality=SOURCE_QUALITY, exif=phone_exif())
    return buffer.getvalue()


# --------------------------------------------------------------------------
# One case, in its own interpreter


def peak_rss_mib() -> float:
    """Peak resident memory of this process image, in MiB.

    On Linux this is ``VmHWM`` from ``/proc/self/status``: ``ru_maxrss``
    would do, except that Linux carries the parent's high-water mark into a
    child across fork and exec, so a child would report at least the
    parent's RSS at spawn time. Elsewhere ``ru_maxrss`` (KiB on Linux and
    BSD, bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def baseline(data: bytes) -> dict[str, Any]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        out = io.BytesIO()
        image.save(out, "JPEG", quality=BASELINE_QUALITY)
    return {"output_bytes": out.tell(), "size": list(SIZE)}


def eclor(data: bytes) -> dict[str, Any]:
    result = images.process(data)
    return {
        "output_bytes": len(result.display),
        "thumb_bytes": len(result.thumb),
        "size": [result.width, result.height],
        "thumb_size": [result.thumb_width, result.thumb_height],
        "gps": list(result.gps) if result.gps else None,
    }


def run_case(case: str, path: Path, runs: int) -> dict[str, Any]:
    """Time ``runs`` runs of ``case`` (after one warm-up) and report this process's peak RSS."""
    data = path.read_bytes()
    if case == "idle":
        return {"case": case, "peak_rss_mib": peak_rss_mib()}
    if case == "eclor-full-decode":
        images._draft_jpeg = lambda image, display_size: None  # comparison only
    work: Callable[[bytes], dict[str, Any]] = baseline if case == "baseline" else eclor
    details = work(data)  # warm-up: imports, plugin init, first-touch allocations
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work(data)
        times.append(time.perf_counter() - start)
    return {
        "case": case,
        "times_ms": [1000 * t for t in times],
        "peak_rss_mib": peak_rss_mib(),
        **details,
    }


def spawn(case: str, path: Path, runs: int) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--case", case, "--input", str(path), "--runs", str(runs)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(completed.stdout.splitlines()[-1])


# --------------------------------------------------------------------------
# Report


def main() -> int:
    """Run every case; exit status 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case and round (5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all cases (3)")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case:  # child process
        print(json.dumps(run_case(args.case, args.input, args.runs)))
        return 0

    load_before = os.getloadavg()[0]
    data = make_jpeg()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "photo.jpg"
        path.write_bytes(data)
        # Cases take turns, round after round, so that a change in the
        # machine's load during the run weighs on all of them alike.
        for _ in range(args.rounds):
            for case in CASES:
                report = spawn(case, path, args.runs)
                merged = results.setdefault(case, {**report, "times_ms": []})
                merged["times_ms"] += report.get("times_ms", [])
                merged["peak_rss_mib"] = max(merged["peak_rss_mib"], report["peak_rss_mib"])
    for report in results.values():
        if times := report["times_ms"]:
            report.update(median_ms=statistics.median(times), min_ms=min(times), max_ms=max(times))

    idle = results["idle"]["peak_rss_mib"]
    base, ours, full = results["baseline"], results["eclor"], results["eclor-full-decode"]
    time_ratio = ours["median_ms"] / base["median_ms"]
    delta = {case: results[case]["peak_rss_mib"] - idle for case in CASES}
    memory_ratio = delta["eclor"] / delta["baseline"]
    time_ok = time_ratio <= TIME_RATIO_TARGET
    memory_ok = ours["peak_rss_mib"] < PEAK_RSS_TARGET_MIB

    labels = {
        "baseline": "baseline: Pillow open + load + save JPEG q80, full size",
        "eclor": "Eclor `images.process` (display + thumbnail)",
        "eclor-full-decode": "Eclor `images.process`, draft disabled (comparison)",
    }
    rows = []
    for case in ("baseline", "eclor", "eclor-full-decode"):
        r = results[case]
        rows.append(
            f"| {labels[case]} | {r['median_ms']:.0f} ({r['min_ms']:.0f}–{r['max_ms']:.0f}) "
            f"| {r['peak_rss_mib']:.0f} | {delta[case]:.0f} |"
        )
    table = "\n".join(
        [
            "| case | median ms (min–max) | peak RSS MiB | over idle MiB |",
            "|---|---|---|---|",
            *rows,
            f"| idle interpreter (same imports, photo read) | – | {idle:.0f} | 0 |",
        ]
    )
    display = f"{ours['size'][0]}×{ours['size'][1]}, {ours['output_bytes'] / 1e3:.0f} kB"
    thumb = f"{ours['thumb_size'][0]}×{ours['thumb_size'][1]}, {ours['thumb_bytes'] / 1e3:.1f} kB"
    saved_ms = full["median_ms"] - ours["median_ms"]
    saved_mib = delta["eclor-full-decode"] - delta["eclor"]
    summary = [
        f"input: {SIZE[0]}×{SIZE[1]} JPEG q{SOURCE_QUALITY} with EXIF, {len(data) / 1e6:.2f} MB",
        f"Eclor output: display {display}; thumbnail {thumb}",
        f"baseline output: {base['output_bytes'] / 1e6:.2f} MB",
        f"ratio Eclor / baseline, time: {time_ratio:.2f}× (target ≤ {TIME_RATIO_TARGET:g}×)",
        f"ratio Eclor / baseline, memory over idle: {memory_ratio:.2f}×",
        f"peak RSS Eclor: {ours['peak_rss_mib']:.0f} MiB (target < {PEAK_RSS_TARGET_MIB:.0f} MiB)",
        f"draft decode saves {saved_ms:.0f} ms and {saved_mib:.0f} MiB per 12 MP JPEG",
    ]
    print(table)
    print()
    for line in summary:
        print(line)
    print(f"  [{'ok' if time_ok else 'FAILED'}] time ratio ≤ {TIME_RATIO_TARGET:g}")
    print(f"  [{'ok' if memory_ok else 'FAILED'}] peak RSS < {PEAK_RSS_TARGET_MIB:.0f} MiB")

    if not args.no_write:
        section = f"""{HEADING}

`.venv/bin/python bench/photos.py` — a 12-megapixel phone-like JPEG
({SIZE[0]}×{SIZE[1]}, quality {SOURCE_QUALITY}, noisy street scene, EXIF with GPS,
{len(data) / 1e6:.2f} MB) built in memory; each case in its own interpreter, one
warm-up then {args.runs} timed runs, cases taking turns over {args.rounds} rounds; time is
the median of the {args.runs * args.rounds} runs; memory is the process's peak RSS
(`VmHWM`, which sees Pillow's C allocations) and its delta over an idle
interpreter with the same imports and the photo read.
Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, Pillow {PIL.__version__},
pillow-heif {pillow_heif.__version__}; load average {load_before:.1f} before the run;
measured {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}.

{table}

| figure | value |
|---|---|
| Eclor output (JPEG q80, Huffman-optimised) | display {display}; thumbnail {thumb} |
| baseline output | {base["output_bytes"] / 1e6:.2f} MB |
| ratio Eclor / baseline, median time | {time_ratio:.2f}× (target ≤ {TIME_RATIO_TARGET:g}×: {"met" if time_ok else "MISSED"}) |
| ratio Eclor / baseline, memory over idle | {memory_ratio:.2f}× |
| Eclor peak RSS | {ours["peak_rss_mib"]:.0f} MiB (target < {PEAK_RSS_TARGET_MIB:.0f} MiB: {"met" if memory_ok else "MISSED"}) |
| what the JPEG draft (decode at 1/2 scale) saves | {saved_ms:.0f} ms and {saved_mib:.0f} MiB per photo |
"""
        print(f"wrote {write_section(HEADING, section).relative_to(ROOT)}")
    return 0 if time_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
