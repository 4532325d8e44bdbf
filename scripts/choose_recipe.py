#!/usr/bin/env python
"""Choose the small-data training recipe by cross-validation over MSRAction3D training subjects.

    python scripts/choose_recipe.py --store STORE [--work-dir DIR] [--folds 2] [--jobs 2]

STORE is the MSRAction3D store (``skelact prepare msr3d --src .../MSRAction3DSkeletonReal3D``).
Writes ``reports/recipe.json`` and ``reports/recipe.md`` (the table of CV results per factor,
:mod:`skelact.tune.recipe`). Test subjects are never read. Cached trainings in the work directory
are reused, so an interrupted run continues with the same command.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from skelact.machine import hardware
from skelact.tune.recipe import choose_recipe, recipe_markdown


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True, help="prepared MSRAction3D store (real-world form)")
    p.add_argument("--work-dir", default="work_dirs/recipe", help="cached trainings (default: %(default)s)")
    p.add_argument(
        "--out", default="reports", help="folder of recipe.json / recipe.md (default: %(default)s)"
    )
    p.add_argument("--folds", type=int, default=2, help="CV folds over the training subjects (default: 2)")
    p.add_argument("--jobs", type=int, default=2, help="trainings at once, one process each (default: 2)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (default: 1)")
    args = p.parse_args()
    started = time.time()
    result = choose_recipe(args.store, args.work_dir, folds=args.folds, jobs=args.jobs, threads=args.threads)
    result["command"] = shlex.join(["python", "scripts/choose_recipe.py", *sys.argv[1:]])
    result["wall_time_s"] = round(time.time() - started, 1)
    result["machine"] = f"{hardware()['cpu']}, {args.jobs} process(es) x {args.threads} thread(s)"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (out / "recipe.md").write_text(recipe_markdown(result), encoding="utf-8")
    print(f"wrote {out / 'recipe.json'} and {out / 'recipe.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
