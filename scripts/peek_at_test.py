"""How much would choosing the epoch on the test subjects inflate a reproduction number? (a diagnostic)

``skelact reproduce`` chooses the epoch (and the fusion weight alpha) of every small-data unit by
cross-validation over the training subjects and scores the test subjects once. Papers on these
datasets rarely say how they chose; reading the test accuracy at its best epoch is a common
shortcut. This script measures what that shortcut would add, on finished units only:

for each given ``unit.json`` it retrains the unit's final model exactly as the unit did (same preset,
overrides, seed and training sequences) for the whole epoch budget, scores the test sequences after
every epoch and compares, per row of the unit (joint, line, fused stream; AS-GCN):

* **reported**: the test accuracy at the cross-validated epoch and alpha, the report's number
  (recomputed here, which checks that the retraining repeats the unit's training exactly);
* **last epoch**: a fixed budget with no choice at all (the fused row keeps the cross-validated alpha);
* **best test epoch**: the highest test accuracy over the epochs (the fused row also over the alpha
  grid), what a protocol that reads the test curve would report.

Nothing here feeds back into any choice: the numbers size a protocol effect, they are not results.
The per-epoch test scores are kept beside the unit (``peek.npz``, keyed by the unit's fingerprint),
so a second run only rewrites the report. Run from the directory ``skelact reproduce`` ran in (the
units' store paths are relative to it)::

    python scripts/peek_at_test.py work_dirs/reproduce/msr3d/arrn/as*/seed_*/unit.json \\
        --threads 1 --out reports/test_peeking
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

PEEK_FILE = "peek.npz"


def _scores(unit: dict[str, Any], unit_dir: Path, threads: int | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Per-epoch test scores of the unit's final model over its whole budget (cached in ``peek.npz``)."""
    cache = unit_dir / PEEK_FILE
    if cache.is_file():
        with np.load(cache) as z:
            if str(z["fingerprint"]) == unit["fingerprint"]:
                heads = {k[len("scores_") :]: z[k] for k in z.files if k.startswith("scores_")}
                return z["epochs"], z["labels"], heads
    import torch

    from skelact.repro.training import fit_and_score
    from skelact.train.config import load_config

    if threads:
        torch.set_num_threads(threads)
    cfg = load_config(unit["preset"], unit["overrides"])
    train, test = np.asarray(unit["selection_positions"]), np.asarray(unit["test_positions"])
    rec = fit_and_score(cfg, train, test, epochs=int(unit["max_epochs"]))
    arrays = {f"scores_{h}": s for h, s in rec.scores.items()}
    tmp = cache.with_name(f".{cache.name}.tmp.npz")
    np.savez_compressed(tmp, fingerprint=unit["fingerprint"], epochs=rec.epochs, labels=rec.labels, **arrays)
    tmp.replace(cache)
    return rec.epochs, rec.labels, rec.scores


def compare(
    unit: dict[str, Any], epochs: np.ndarray, labels: np.ndarray, scores: dict
) -> list[dict[str, Any]]:
    """Reported, last-epoch and best-test-epoch accuracy of every row of one unit."""
    from skelact.repro.selection import ALPHA_GRID, accuracy_curve, fused_probabilities

    def accuracy(head: str, pos: int, alpha: float | None) -> float:
        if head == "fused":
            probs = fused_probabilities(scores["joint"][pos], scores["line"][pos], float(alpha))
            return float(100.0 * np.mean(probs.argmax(-1) == labels))
        return float(accuracy_curve(scores[head][pos : pos + 1], labels)[0])

    out = []
    for key, row in unit["rows"].items():
        head, epoch, alpha = row["head"], int(row["epoch"]), row.get("alpha")
        pos = int(np.flatnonzero(epochs == epoch)[0])
        if head == "fused":
            grid = np.array([[accuracy("fused", p, a) for a in ALPHA_GRID] for p in range(len(epochs))])
            best_pos, best_alpha = np.unravel_index(int(np.argmax(grid)), grid.shape)
            best = {"top1": float(grid[best_pos, best_alpha]), "epoch": int(epochs[best_pos]),
                    "alpha": float(ALPHA_GRID[best_alpha])}  # fmt: skip
        else:
            curve = accuracy_curve(scores[head], labels)
            best_pos = int(np.argmax(curve))
            best = {"top1": float(curve[best_pos]), "epoch": int(epochs[best_pos]), "alpha": None}
        out.append({
            "target": unit["target"], "unit": unit["unit_name"], "seed": unit["seed"], "row": key,
            "head": head,
            "reported": {"top1": float(row["top1"]), "epoch": epoch, "alpha": alpha},
            "recomputed": accuracy(head, pos, alpha),
            "last_epoch": {"top1": accuracy(head, len(epochs) - 1, alpha), "epoch": int(epochs[-1])},
            "best_test_epoch": best,
        })  # fmt: skip
    return out


def _choice(r: dict[str, Any]) -> str:
    return f"{r['epoch']}" if r.get("alpha") is None else f"{r['epoch']} / {r['alpha']:.2f}"


def write_report(rows: list[dict[str, Any]], out: Path, command: str) -> None:
    """``out``.md (a table per row kind and a summary) and ``out``.json (the same numbers)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["target"], r["row"]), []).append(r)
    from skelact.repro.report import signed_points

    summary = []
    for (target, row), items in groups.items():
        rep = [i["reported"]["top1"] for i in items]
        best = [i["best_test_epoch"]["top1"] for i in items]
        last = [i["last_epoch"]["top1"] for i in items]
        summary.append({
            "target": target, "row": row, "n": len(items), "reported": float(np.mean(rep)),
            "last_epoch": float(np.mean(last)), "best_test_epoch": float(np.mean(best)),
            "gain": float(np.mean(best) - np.mean(rep)),
        })  # fmt: skip
    lines = [
        "# Choosing on the test set: how much it would add",
        "",
        "A diagnostic, not a result: for finished reproduction units, the test accuracy at the epoch (and "
        "fusion weight) chosen by cross-validation over the training subjects (*reported*, the number in "
        "`reproduction.md`), after the last epoch of the budget (*last epoch*), and at the best test epoch "
        "(and, fused, the best alpha of the grid): what a protocol that reads the test curve would report. "
        "Nothing here chose anything in the reproduction.",
        "",
        f"Command: `{command}`",
        "",
        "## Summary (mean over the units and seeds given)",
        "",
        "| Target | Row | Units x seeds | Reported (CV choice) | Last epoch | Best test epoch "
        "| Best − reported |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        lines.append(
            f"| {s['target']} | {s['row']} | {s['n']} | {s['reported']:.1f} | {s['last_epoch']:.1f} | "
            f"{s['best_test_epoch']:.1f} | {signed_points(s['gain'])} |"
        )
    lines += [
        "",
        "## Per unit and seed",
        "",
        "Choices as `epoch` or `epoch / alpha`. *Recomputed*: the reported choice scored on the retrained "
        "model; equal to *reported* when the retraining repeats the unit's training.",
        "",
        "| Target | Unit | Seed | Row | Reported (choice) | Recomputed | Last epoch "
        "| Best test epoch (choice) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rep, best = r["reported"], r["best_test_epoch"]
        lines.append(
            f"| {r['target']} | {r['unit']} | {r['seed']} | {r['row']} "
            f"| {rep['top1']:.1f} ({_choice(rep)}) | {r['recomputed']:.1f} "
            f"| {r['last_epoch']['top1']:.1f} | {best['top1']:.1f} ({_choice(best)}) |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    payload = {"command": command, "summary": summary, "units": rows}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("units", nargs="+", type=Path, help="unit.json files of finished reproduction units")
    parser.add_argument(
        "--out", type=Path, default=Path("reports/test_peeking"), help="writes OUT.md, OUT.json"
    )
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    command = shlex.join(["python", "scripts/peek_at_test.py", *(argv if argv is not None else sys.argv[1:])])

    rows = []
    for i, path in enumerate(args.units, 1):
        path = path / "unit.json" if path.is_dir() else path
        try:
            unit = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            parser.error(f"{path}: not a readable unit.json ({e})")
        if unit.get("selection") != "cv":
            parser.error(f"{path}: not a cross-validated unit (selection {unit.get('selection')!r})")
        name = f"{unit['target']} {unit['training']} {unit['unit_name']} seed {unit['seed']}"
        what = f"[{i}/{len(args.units)}] {name}"
        started = time.time()
        print(f"{what}: final model, {unit['max_epochs']} epochs, test scored after each ...", flush=True)
        epochs, labels, scores = _scores(unit, path.parent, args.threads)
        found = compare(unit, epochs, labels, scores)
        for r in found:
            flag = "" if abs(r["recomputed"] - r["reported"]["top1"]) < 1e-6 else " (differs from the unit!)"
            best = r["best_test_epoch"]
            print(
                f"  {r['row']}: reported {r['reported']['top1']:.1f}, recomputed {r['recomputed']:.1f}"
                f"{flag}, last epoch {r['last_epoch']['top1']:.1f}, best test epoch {best['top1']:.1f} "
                f"({_choice(best)})",
                flush=True,
            )
        print(f"{what}: {time.time() - started:.0f} s", flush=True)
        rows += found
    write_report(rows, args.out, command)
    print(f"wrote {args.out.with_suffix('.md')} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
