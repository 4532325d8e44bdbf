#!/usr/bin/env python
"""Keep mutmut's per-mutant results across sittings: ``benchmarks/mutation_cache.json``.

    python scripts/mutation_cache.py save      # mutants/src/**/*.py.meta -> the cache
    python scripts/mutation_cache.py restore   # the cache -> .meta files mutmut has not written yet

The mutation run over ``src/skelact/models/`` takes longer than one sitting, and ``mutants/`` is a
work folder that a fresh clone does not have. ``scripts/mutation.sh`` restores the cache before
``mutmut run`` and saves it while and after it runs, so a later sitting (or another machine)
continues where the last one stopped instead of starting over.

What is kept per source file is what mutmut 3 needs to resume: each mutant's exit code and the hash
of each mutated function. When mutmut regenerates the mutants it keeps the recorded exit code of a
mutant only when its function's hash is unchanged, so a function edited since is checked again; the
cache never vouches for code it did not see. Durations are not kept (mutmut re-estimates them).
A mutant recorded as surviving stays so until it is run again by name
(``bash scripts/mutation.sh NAME``) after the test that should kill it is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEPT = ("exit_code_by_key", "hash_by_function_name")


def save(mutants: Path, cache: Path) -> int:
    """Write every ``.meta`` under ``mutants/src`` into ``cache``; returns the number of mutants."""
    files: dict[str, dict] = {}
    for meta in sorted((mutants / "src").rglob("*.py.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        if not data.get("exit_code_by_key"):
            continue  # nothing mutated in this file (an __init__ of imports)
        source = meta.relative_to(mutants).as_posix().removesuffix(".meta")
        files[source] = {key: data.get(key, {}) for key in KEPT}
    if not files:
        raise SystemExit(f"no mutmut results under {mutants}/src: nothing to save")
    cache.write_text(json.dumps({"files": files}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return sum(len(entry["exit_code_by_key"]) for entry in files.values())


def restore(cache: Path, mutants: Path) -> int:
    """Write a ``.meta`` for each cached file that has none yet; returns the number of mutants.

    A ``.meta`` that exists is newer than the cache (this sitting's own results) and is kept.
    """
    if not cache.exists():
        return 0
    files = json.loads(cache.read_text(encoding="utf-8"))["files"]
    restored = 0
    for source, entry in files.items():
        meta = mutants / (source + ".meta")
        if meta.exists():
            continue
        meta.parent.mkdir(parents=True, exist_ok=True)
        data = {**{key: entry[key] for key in KEPT}, "type_check_error_by_key": {},
                "durations_by_key": {}, "estimated_durations_by_key": {}}  # fmt: skip
        meta.write_text(json.dumps(data, indent=4), encoding="utf-8")
        restored += len(entry["exit_code_by_key"])
    return restored


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("save", "restore"))
    p.add_argument("--mutants", type=Path, default=ROOT / "mutants")
    p.add_argument("--cache", type=Path, default=ROOT / "benchmarks" / "mutation_cache.json")
    args = p.parse_args(argv)
    if args.action == "save":
        count = save(args.mutants, args.cache)
        print(f"saved the results of {count} mutants to {args.cache}", file=sys.stderr)
    else:
        count = restore(args.cache, args.mutants)
        print(f"restored the results of {count} mutants from {args.cache}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
