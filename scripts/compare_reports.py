"""Compare two reproduction reports unit by unit: the same command rerun on another machine or commit.

Reads two ``reproduction.json`` files (``skelact reproduce``) and, for every target, row, unit and
seed that both hold, prints the two top-1 accuracies and their difference, then per row the mean
absolute per-unit difference beside the seed spread of each report (the mean over units of the
standard deviation over seeds). A machine-to-machine difference of the size of the seed spread
means the rerun agrees with the earlier report as far as these data can tell.

Example (the report rebuilt in ``reports/`` against the earlier one)::

    python scripts/compare_reports.py reports/earlier/2026-11-23/reproduction.json \\
        reports/reproduction.json --out reports/comparison_2026-11-23.md
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skelact.repro.templating import fmt, signed_points


def _entries(path: Path) -> dict[tuple[str, str], Mapping[str, Any]]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        return {(e["target"], e["row"]): e for e in entries}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"{path}: not a reproduction.json written by skelact reproduce ({e})") from e


def _seed_spread(entry: Mapping[str, Any], units: Sequence[str]) -> float | None:
    """Mean over ``units`` of the sample standard deviation over the entry's seeds."""
    spreads = []
    for unit in units:
        values = [s["folds"][unit] for s in entry["per_seed"].values() if unit in s["folds"]]
        if len(values) >= 2:
            spreads.append(statistics.stdev(values))
    return statistics.fmean(spreads) if spreads else None


def compare(old: Path, new: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(pairs, rows)``: every (target, row, unit, seed) in both reports with both accuracies, and
    per (target, row) the mean absolute difference and each report's seed spread."""
    a, b = _entries(old), _entries(new)
    pairs: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for key in [k for k in a if k in b]:
        ea, eb = a[key], b[key]
        mine = []
        for seed in [s for s in ea["per_seed"] if s in eb["per_seed"]]:
            fa, fb = ea["per_seed"][seed]["folds"], eb["per_seed"][seed]["folds"]
            for unit in [u for u in fa if u in fb]:
                mine.append({
                    "target": key[0], "row": key[1], "name": eb["name"], "unit": unit, "seed": int(seed),
                    "old": fa[unit], "new": fb[unit], "difference": round(fb[unit] - fa[unit], 4),
                })  # fmt: skip
        if not mine:
            continue
        pairs += mine
        units = sorted({p["unit"] for p in mine}, key=list(eb["folds"]).index)
        rows.append({
            "target": key[0], "row": key[1], "name": eb["name"], "pairs": len(mine),
            "mean_abs_difference": round(statistics.fmean(abs(p["difference"]) for p in mine), 4),
            "mean_difference": round(statistics.fmean(p["difference"] for p in mine), 4),
            "seed_spread_old": _seed_spread(ea, units), "seed_spread_new": _seed_spread(eb, units),
        })  # fmt: skip
    return pairs, rows


def markdown(old: Path, new: Path, pairs: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    lines = [
        f"# `{new}` against `{old}`",
        "",
        "Top-1 accuracy (%) of every unit and seed both reports hold (new − old), and per row the mean "
        "absolute difference beside each report's seed spread (mean over units of the standard "
        "deviation over seeds).",
        "",
        "| Target | Model | Unit pairs | Mean abs. difference | Mean difference | Seed spread (old) | "
        "Seed spread (new) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['target']} | {r['name']} | {r['pairs']} | {r['mean_abs_difference']:.1f} | "
            f"{signed_points(r['mean_difference'])} | {fmt(r['seed_spread_old'])} | "
            f"{fmt(r['seed_spread_new'])} |"
        )
    lines += ["", "| Target | Model | Unit | Seed | Old | New | New − old |", "|---|---|---|---|---|---|---|"]
    for p in pairs:
        lines.append(
            f"| {p['target']} | {p['name']} | {p['unit']} | {p['seed']} | {p['old']:.1f} | {p['new']:.1f} | "
            f"{signed_points(p['difference'])} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="the earlier reproduction.json")
    parser.add_argument("new", type=Path, help="the rerun's reproduction.json")
    parser.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    args = parser.parse_args(argv)
    pairs, rows = compare(args.old, args.new)
    if not pairs:
        raise SystemExit("the two reports share no (target, row, unit, seed)")
    text = markdown(args.old, args.new, pairs, rows)
    print(text, end="")
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
