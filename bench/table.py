"""One table for every benchmark: flow, scale, database, seconds, floor, ratio, target, peak RSS.

Each benchmark calls ``record(...)`` per measured line. The line is printed at once, and, when
``BENCH_TABLE`` names a file (``make bench`` sets it), appended to it as one JSON object per line;
``python bench/table.py FILE`` then prints every benchmark's lines as one table. The figures in
README.md's "Benchmarks" section are copied from that table.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

COLUMNS = ("flow", "scale", "db", "seconds", "floor", "ratio", "target", "peak_mb")
# the table's head, which a benchmark printing only rows of its own may print first
HEAD = "| " + " | ".join([*COLUMNS, "verdict"]) + " |\n" + "|" + "---|" * (len(COLUMNS) + 1)


def peak_rss_mb() -> int:
    """Peak resident memory of this process so far, in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def record(
    flow: str,
    scale: str,
    db: str,
    seconds: float,
    floor: float | None,
    *,
    target: float | None = None,
    target_seconds: float | None = None,
    peak_mb: int | None = None,
) -> dict:
    """Print one measured line and append it to ``$BENCH_TABLE``; returns the line as a dict.

    ``db`` is 'PostgreSQL', 'SQLite' or '-' (no database: the parsers, the format engine).

    ``floor`` is the time of the fastest way to move the same rows (PostgreSQL's COPY, SQLite's
    executemany, reading and splitting the bytes); ``target`` the ratio the flow must stay under,
    ``target_seconds`` the seconds it must stay under (the demo day).
    """
    ratio = round(seconds / floor, 1) if floor else None
    line = {
        "flow": flow,
        "scale": scale,
        "db": db,
        "seconds": round(seconds, 3 if seconds < 1 else 2),  # a page of the view: ms
        "floor": round(floor, 3) if floor is not None else None,
        "ratio": ratio,
        "target": target if target is not None else _seconds_target(target_seconds),
        "peak_mb": peak_mb if peak_mb is not None else peak_rss_mb(),
    }
    print(format_line(line), flush=True)
    out = os.environ.get("BENCH_TABLE")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
    return line


def _seconds_target(seconds: float | None) -> str | None:
    return None if seconds is None else f"{seconds:g} s"


def _cell(value) -> str:
    return "-" if value is None else str(value)


def format_line(line: dict) -> str:
    """One table row; the verdict says whether the ratio meets the target."""
    verdict = ""
    target = line.get("target")
    if isinstance(target, str) and target.endswith(" s"):  # a target in seconds
        verdict = "ok" if line["seconds"] <= float(target[:-2]) else "OVER"
    elif target and line.get("ratio") is not None:
        verdict = "ok" if line["ratio"] <= target else "OVER"
    cells = [_cell(line.get(c)) for c in COLUMNS]
    return "| " + " | ".join([*cells, verdict]) + " |"


def print_table(path: Path) -> None:
    """Print every line recorded in ``path`` as one Markdown table."""
    print(HEAD)
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            print(format_line(json.loads(raw)))


if __name__ == "__main__":
    print_table(Path(sys.argv[1]))
