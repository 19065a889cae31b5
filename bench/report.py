"""Writing a benchmark's figures into its own section of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
INTRO = "Latest benchmark figures; rerun with the command under each heading."


def write_section(heading: str, text: str, path: Path = DOC) -> Path:
    """Replace the section that starts with ``heading`` (up to the next ``## ``), or append it.

    Other sections are left as they are.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    current = path.read_text(encoding="utf-8") if path.exists() else f"# Benchmarks\n\n{INTRO}\n"
    lines = current.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        new = current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        before = "\n".join(lines[:start]).rstrip("\n")
        after = "\n".join(lines[end:]).strip("\n")
        new = before + "\n\n" + text.rstrip("\n") + "\n" + (f"\n{after}\n" if after else "")
    path.write_text(new, encoding="utf-8")
    return path
