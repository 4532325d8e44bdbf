#!/usr/bin/env python
"""What the small-data reproduction costs, measured, and how it splits into parts of a sitting each.

    python scripts/reproduction_cost.py RECORDS_DIR [EARLIER_DIR ...] --epochs E [--jobs 2]
        [--limit-h 2.5] [--out FILE]

Each directory holds unit records (``unit.json``) whose final trainings were timed (any protocol:
the final training of a ``cv-epochs`` unit is one training on all its training subjects, exactly
what a ``last-epoch`` unit trains). From them: seconds per epoch of one training, per target and
model run (median over units and seeds), then the cost of the ``last-epoch`` protocol with E epochs
(one training per unit, seed and model run), per row and in all, its wall time with ``--jobs``
processes, how many cores would finish it within ``--limit-h`` hours (the trainings are
independent), and a split into parts of at most ``--limit-h`` hours of wall time, each a
``skelact reproduce`` command that can be run, finished and committed on its own.

The first directory is the measurement; the later ones fill in what it has not timed yet (a
reproduction run in parts). A figure from a later directory is scaled by how much slower or faster
the first directory's trainings of the same model run were than that directory's on a target both
timed (median of the ratios), so that the parts still to run are planned at the speed measured
now; the table says where each figure comes from.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from skelact.repro.sitting import JOBS, SITTING_H, cores_for

TARGET_UNITS = {"msr3d": ["as1", "as2", "as3"], "florence3d": [f"fold{k:02d}" for k in range(1, 11)]}
TRAININGS = ("arrn", "rrn", "asgcn")
SEEDS = (0, 1, 2)


Cost = dict[tuple[str, str], float]
Done = set[tuple[str, str, str, int]]  # (target, training, unit, seed) with a record


def seconds_per_epoch(records: Path) -> Cost:
    """Median seconds per epoch of one final training, per (target, training)."""
    per: dict[tuple[str, str], list[float]] = defaultdict(list)
    for path in sorted(records.rglob("unit.json")):
        r = json.loads(path.read_text())
        final = r.get("final") or {}
        if final.get("wall_time_s") and final.get("epochs"):
            per[(r["target"], r["training"])].append(final["wall_time_s"] / max(final["epochs"]))
    return {k: statistics.median(v) for k, v in per.items()}


def finished(records: Path) -> Done:
    """(target, training, unit, seed) of every unit record in ``records``."""
    done = set()
    for path in records.rglob("unit.json"):
        r = json.loads(path.read_text())
        done.add((r["target"], r["training"], r["unit"], int(r["seed"])))
    return done


def part_progress(part: dict, done: Done, cost: Cost, epochs: int) -> tuple[int, int, float]:
    """How far a part is: ``(trainings done, trainings in all, core-seconds of those left)``. A part
    run in part resumes: rerunning its command trains only what has no record."""
    needed = [(part["target"], t, u, s) for t in part["trainings"] for u in part["units"] for s in SEEDS]
    left = [key for key in needed if key not in done]
    return len(needed) - len(left), len(needed), sum(cost[(k[0], k[1])] * epochs for k in left)


def part_state(part: dict, done: Done, cost: Cost, epochs: int, jobs: int, records: Path) -> str:
    """The plan's note on a part: done, partly done (what is left), or nothing."""
    finished_, total, left = part_progress(part, done, cost, epochs)
    if finished_ == total:
        return f" (done: its records are in `{records}`)"
    if finished_:
        return (f" ({finished_} of {total} trainings done, their records in `{records}`; about "
                f"{left / jobs / 3600:.1f} h left, which the same command trains)")  # fmt: skip
    return ""


def combined_cost(dirs: list[Path]) -> tuple[Cost, dict[tuple[str, str], str]]:
    """Seconds per epoch for every (target, training), and where each figure comes from.

    The first directory's figures stand as measured. A key it lacks is taken from the first later
    directory that has it, times the median over shared targets of (first / later) for the same
    training; with no shared target to calibrate on, the later figure is taken as it is, and the
    source says so.
    """
    measured = [seconds_per_epoch(d) for d in dirs]
    now = measured[0]
    cost, source = dict(now), {key: f"`{dirs[0]}`" for key in now}
    for directory, later in zip(dirs[1:], measured[1:], strict=True):
        for (target, training), spe in later.items():
            if (target, training) in cost:
                continue
            shared = sorted(t for (t, tr) in later if tr == training and (t, tr) in now)
            if shared:
                scale = statistics.median(now[(t, training)] / later[(t, training)] for t in shared)
                cost[(target, training)] = spe * scale
                source[(target, training)] = f"`{directory}` x {scale:.2f} (ratio on {', '.join(shared)})"
            else:
                cost[(target, training)] = spe
                source[(target, training)] = f"`{directory}` (not calibrated)"
    return cost, source


def core_seconds(cost: Cost, epochs: int) -> dict[tuple[str, str], float]:
    """Core-seconds of every (target, training): one training per unit and seed, in table order."""
    return {(target, t): cost[(target, t)] * epochs * len(units) * len(SEEDS)
            for target, units in TARGET_UNITS.items() for t in TRAININGS}  # fmt: skip


def one_sitting(cost: Cost, epochs: int, limit_h: float) -> tuple[int, int, float]:
    """``(trainings, cores, longest)``: how many independent trainings the whole reproduction is, how
    many cores (one training each at the measured speed) finish them within ``limit_h`` hours, and
    the longest single training in seconds (no number of cores goes below it)."""
    trainings = sum(len(units) * len(SEEDS) * len(TRAININGS) for units in TARGET_UNITS.values())
    total = sum(core_seconds(cost, epochs).values())
    return trainings, cores_for(total, limit_h), max(cost.values()) * epochs


def plan(cost: Cost, epochs: int, jobs: int, limit_h: float) -> list[dict]:
    """Parts of at most ``limit_h`` hours of wall time: runs of (target, training, units) grouped
    greedily in table order; a model run too long for one part is split by units."""
    limit = limit_h * 3600 * jobs  # core-seconds one part may hold
    runs = []
    for target, units in TARGET_UNITS.items():
        for training in TRAININGS:
            each = cost[(target, training)] * epochs * len(SEEDS)  # one unit, all seeds
            pieces = max(1, math.ceil(each * len(units) / limit))  # equal pieces, each within the limit
            chunk = math.ceil(len(units) / pieces)
            for i in range(0, len(units), chunk):
                runs.append({"target": target, "trainings": [training], "units": units[i : i + chunk],
                             "core_s": each * len(units[i : i + chunk])})  # fmt: skip
    parts: list[dict] = []
    for run in runs:
        last = parts[-1] if parts else None
        if last and last["target"] == run["target"] and last["units"] == run["units"] \
                and last["core_s"] + run["core_s"] <= limit:  # fmt: skip
            last["trainings"] += run["trainings"]
            last["core_s"] += run["core_s"]
        else:
            parts.append(dict(run))
    return parts


def command(part: dict, epochs_note: str) -> str:
    units = "" if part["units"] == TARGET_UNITS[part["target"]] else " --units " + " ".join(part["units"])
    return (f"skelact reproduce {part['target']} --seeds 0 1 2 --models {' '.join(part['trainings'])}{units} "
            f"--out reports --work-dir work_dirs/reproduce --threads 1 --jobs 2{epochs_note}")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "records",
        type=Path,
        nargs="+",
        help="unit records; the first is the measurement, later ones fill in the rest",
    )
    p.add_argument("--epochs", type=int, required=True, help="epochs of the recipe")
    p.add_argument("--jobs", type=int, default=JOBS)
    p.add_argument("--limit-h", type=float, default=SITTING_H)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    cost, source = combined_cost(args.records)
    missing = [f"{t} {tr}" for t in TARGET_UNITS for tr in TRAININGS if (t, tr) not in cost]
    if missing:
        p.error(f"no timed final training of {', '.join(missing)} in {', '.join(map(str, args.records))}")
    lines = [
        "# What the small-data reproduction costs",
        "",
        f"Written by `python scripts/reproduction_cost.py {' '.join(sys.argv[1:])}` from the timed final "
        "trainings of unit records (one training on all of a unit's training subjects, 1 torch thread "
        f"each, {args.jobs} at a time; median over units and seeds).",
        "",
        f"| target | model run | s / epoch | one training ({args.epochs} epochs) | units x seeds | "
        "core-hours | timed in |",
        "|---|---|---|---|---|---|---|",
    ]
    runs = core_seconds(cost, args.epochs)
    for (target, training), core in runs.items():
        spe = cost[(target, training)]
        lines.append(f"| {target} | {training} | {spe:.2f} | {spe * args.epochs / 60:.1f} min | "
                     f"{len(TARGET_UNITS[target])} x {len(SEEDS)} | {core / 3600:.2f} | "
                     f"{source[(target, training)]} |")  # fmt: skip
    total = sum(runs.values())
    wall = total / args.jobs / 3600
    trainings, cores, longest = one_sitting(cost, args.epochs, args.limit_h)
    parts = plan(cost, args.epochs, args.jobs, args.limit_h)
    lines += [
        "",
        f"In all {total / 3600:.1f} core-hours: **{wall:.1f} h of wall time with --jobs {args.jobs}**, "
        f"{wall / args.limit_h:.1f} times a {args.limit_h:g}-hour sitting. Rows of one model run share "
        "its training (joint, line and two-stream come from one two-stream ARRN-LSTM). Reaching one "
        f"sitting needs every training about {wall / args.limit_h:.1f} times cheaper; the ARRN-LSTM "
        "training step (the RRN's pairwise messages and the LSTM) is the bulk. Or more cores: the "
        f"{trainings} trainings are independent, so `--jobs N` on a machine of N such cores, or "
        f"`--ray ADDRESS` over a cluster, divides the wall time; one sitting needs at least **{cores} "
        f"cores** (1 thread a training, each as fast as timed here), and no number of cores brings it "
        f"below the longest training ({longest / 60:.0f} min).",
        "",
        f"Until then the run goes in {len(parts)} parts of at most {args.limit_h:g} h each, every one a "
        "command that finishes, writes its unit records and can be committed on its own; the last "
        "part's report (or `--report-only` over all records) is the whole reproduction:",
        "",
        "| part | command | estimated wall time |",
        "|---|---|---|",
    ]
    done = finished(args.records[0])
    for k, part in enumerate(parts, 1):
        state = part_state(part, done, cost, args.epochs, args.jobs, args.records[0])
        lines.append(f"| {k} | `{command(part, '')}` | {part['core_s'] / args.jobs / 3600:.1f} h{state} |")
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
