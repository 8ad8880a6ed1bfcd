"""Fills the "last measured" column of docs/experiments.md from real runs.

    make experiments-measured            # runs each experiment, then rewrites the column
    python docs/tools/last_measured.py   # rewrites it from reports/measured/*/summary.json
    python docs/tools/last_measured.py --run --only redis-down   # measures one again

Each experiment runs as a user would run it (its scenario, 15 rps, the shipped fault
length) against the running stack (`gameday stack up`); its run directory is kept
in reports/measured/NAME. The cell is the run's verdict, the objectives it broke and
the experiment's own figures, with the day and the commit it was measured on.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "experiments.md"
RUNS = ROOT / "reports" / "measured"
# experiment -> the gameday run options it is measured with
MEASURED: dict[str, list[str]] = {
    "redis-down": ["--scenario", "search_mix"],
    "rabbitmq-down": ["--scenario", "write_heavy"],
    "opensearch-down": ["--scenario", "search_mix"],
    "opensearch-latency": ["--scenario", "read_only"],
    "postgres-partition": ["--scenario", "write_heavy"],
    "slow-network": ["--scenario", "search_mix"],
    "indexer-paused": ["--scenario", "write_heavy"],
    "indexer-killed": ["--scenario", "write_heavy"],
    "service-worker-killed": ["--scenario", "read_only"],
    "api-partition": ["--scenario", "read_only", "--via-proxy"],
}
ROW = re.compile(r"^\| `(?P<name>[a-z0-9-]+)` \| (?P<proves>.*?) \|(?: (?P<measured>.*?) \|)?$")


def run_experiments(gameday: Path, names: list[str]) -> None:
    for name in names:
        options = MEASURED[name]
        sys.stderr.write(f"measuring {name} ...\n")
        out = RUNS / name
        subprocess.run(["rm", "-rf", str(out)], check=True)
        argv = [str(gameday), "run", *options, "--rate", "15"]
        argv += ["--experiment", f"experiments/{name}.json", "--out", str(out)]
        code = subprocess.run(argv, cwd=ROOT, check=False).returncode
        if code not in (0, 1):
            sys.stderr.write(f"{name}: gameday run exited {code}; the cell says so\n")


def _num(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.1f} {unit}"


def describe(summary: dict[str, Any]) -> str:
    facts = summary["run"]
    failed = sorted(o["name"] for o in summary["objectives"] if o["gating"] and not o["passed"])
    parts = [f"**{summary['verdict'].upper()}**"]
    if failed:
        parts.append("broke " + ", ".join(failed))
    for e in summary["experiments"][:1]:
        parts.append(f"RTO {_num(e['rto_s'], 's')}")
        if e.get("breaker"):
            b = e["breaker"]
            opened, closed = _num(b["opened_after_s"], "s"), _num(b["closed_after_s"], "s")
            parts.append(f"breaker open after {opened}, closed {closed} after removal")
        if e.get("degraded_answers"):
            parts.append(f"{e['degraded_answers']} stale answers")
        if e.get("p95_rise_ms") is not None:
            parts.append(f"p95 {e['p95_rise_ms']:+.0f} ms over steady")
        if e.get("lost_writes") is not None:
            parts.append(f"{e['lost_writes']} lost writes")
    day = (facts.get("started_at") or "")[:10]
    sha = (facts.get("git_sha") or "")[:7]
    return "; ".join(parts) + f" ({day}, {facts.get('scenario')}, `{sha}`)"


def rewrite(page: str, cells: dict[str, str]) -> str:
    """The experiments table (headed `| experiment | proves |`) gets the column."""
    lines, in_table = [], False
    for line in page.splitlines():
        if line.startswith("| experiment | proves |"):
            in_table, line = True, "| experiment | proves | last measured |"
        elif in_table and line.startswith("|---|"):
            line = "|---|---|---|"
        elif in_table and (match := ROW.match(line)):
            cell = cells.get(match["name"], match["measured"] or "not measured")
            line = f"| `{match['name']}` | {match['proves']} | {cell} |"
        else:
            in_table = in_table and line.startswith("|")
        lines.append(line)
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true", help="run the experiments first")
    parser.add_argument("--gameday", type=Path, default=ROOT / ".venv" / "bin" / "gameday")
    parser.add_argument("--only", action="append", choices=sorted(MEASURED), help="repeatable")
    args = parser.parse_args()
    if args.run:
        run_experiments(args.gameday, args.only or list(MEASURED))
    cells = {}
    for name in MEASURED:
        file = RUNS / name / "summary.json"
        if file.exists():
            cells[name] = describe(json.loads(file.read_text()))
    if not cells:
        sys.stderr.write(f"no run in {RUNS}: run `make experiments-measured` first\n")
        return 2
    PAGE.write_text(rewrite(PAGE.read_text(), cells))
    sys.stderr.write(f"{PAGE.relative_to(ROOT)}: {len(cells)} experiment(s) measured\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
