#!/usr/bin/env python
"""Write ``benchmarks/results/mutation.md`` from a finished mutmut run over ``src/skelact/models/``.

    bash scripts/mutation.sh                  # the run (hours; resumable), results under mutants/
    python scripts/mutation_report.py         # this report; --check fails on unexplained survivors

Reads every ``mutants/src/**/*.py.meta`` that mutmut wrote (one exit code per mutant), or, where
there is no ``mutants/`` (a fresh clone), the same results kept in ``benchmarks/mutation_cache.json``
by ``scripts/mutation_cache.py``, and the
hand-written list of equivalent mutants, ``benchmarks/mutation_equivalents.md`` (``- NAME: why``,
one line per mutant: a mutant no test can kill because it computes the same thing). Counts per
module: killed (a test failed, or the mutant hung past mutmut's timeout), equivalent (survived and
explained), survived (unexplained), no tests (no test runs the function), not checked. Every
survivor is listed, with its reason when it has one.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout",
          37: "type check", -11: "segfault", -9: "segfault", -6: "abort", None: "not checked"}  # fmt: skip
#: a test (or mutmut's guard) caught it; "abort": the test process died of SIGABRT (glibc's malloc
#: aborts on the heap corruption of a compiled kernel writing past a too-small buffer)
KILLED = {"killed", "timeout", "segfault", "abort", "type check"}
COLUMNS = ("mutants", "killed", "equivalent", "survived", "no tests", "not checked")


def read_equivalents(path: Path) -> dict[str, str]:
    """``{mutant name: reason}`` from ``- NAME: reason`` lines (other lines are prose)."""
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = re.match(r"^- (\S+?): (.+)$", line)
        if match:
            if match[1] in found:
                raise SystemExit(f"{path}:{number}: {match[1]} is listed twice")
            found[match[1]] = match[2]
    return found


def read_results(mutants: Path, cache: Path | None = None) -> dict[str, dict[str, str]]:
    """``{module: {mutant name: status}}`` from mutmut's ``.meta`` files, else from ``cache``."""
    codes_by_source: dict[str, dict] = {}
    for meta in sorted((mutants / "src").rglob("*.py.meta")):
        source = meta.relative_to(mutants).as_posix().removesuffix(".meta")
        codes_by_source[source] = json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
    if not codes_by_source and cache is not None and cache.exists():
        files = json.loads(cache.read_text(encoding="utf-8"))["files"]
        codes_by_source = {source: entry["exit_code_by_key"] for source, entry in sorted(files.items())}
    results: dict[str, dict[str, str]] = {}
    for source, codes in codes_by_source.items():
        module = source.removeprefix("src/").removesuffix(".py").replace("/", ".")
        results[module] = {name: STATUS.get(code, "suspicious") for name, code in codes.items()}
    return results


def tally(statuses: dict[str, str], equivalents: dict[str, str]) -> Counter:
    counts: Counter = Counter(mutants=len(statuses))
    for name, status in statuses.items():
        if status in KILLED:
            counts["killed"] += 1
        elif status == "survived":
            counts["equivalent" if name in equivalents else "survived"] += 1
        else:
            counts[status] += 1
    return counts


def mutmut_version() -> str:
    try:
        return "mutmut " + importlib.metadata.version("mutmut")
    except importlib.metadata.PackageNotFoundError:  # the report can be rewritten without it
        return "mutmut (version not installed here)"


def report(results: dict[str, dict[str, str]], equivalents: dict[str, str], command: str) -> str:
    total: Counter = Counter()
    rows = []
    for module, statuses in results.items():
        if not statuses:
            continue  # nothing to mutate (an __init__ of imports)
        counts = tally(statuses, equivalents)
        total += counts
        rows.append(f"| `{module}` | " + " | ".join(str(counts[c]) for c in COLUMNS) + " |")
    share = 100 * total["killed"] / max(total["mutants"], 1)
    explained = 100 * (total["killed"] + total["equivalent"]) / max(total["mutants"], 1)
    lines = [
        "# Mutation testing of the model code",
        "",
        f"- command: `{command}` ({mutmut_version()}, config "
        "`[tool.mutmut]` in `pyproject.toml`: `src/skelact/models/` mutated, `tests/models/` run); "
        "report: `python scripts/mutation_report.py`",
        f"- written {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"- **{total['killed']} of {total['mutants']} mutants killed ({share:.1f} %)**; with the "
        f"{total['equivalent']} equivalent mutants (each explained below), {explained:.1f} % are "
        f"accounted for. Unexplained survivors: {total['survived']}; without a test: "
        f"{total['no tests']}; not checked: {total['not checked']}.",
        "",
        "| module | " + " | ".join(COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
        *rows,
        "| **all** | " + " | ".join(f"**{total[c]}**" for c in COLUMNS) + " |",
        "",
        "Killed: a test failed on the mutant (or it ran past mutmut's timeout). Equivalent: it survived "
        "because it computes the same thing as the original; the reasons are in "
        "`benchmarks/mutation_equivalents.md`.",
        "",
        "## Survivors",
        "",
    ]
    survivors = [(m, n) for m, statuses in results.items() for n, s in statuses.items()
                 if s == "survived"]  # fmt: skip
    if not survivors:
        lines.append("None.")
    for _, name in survivors:
        reason = equivalents.get(name)
        lines.append(f"- `{name}`: " + (f"equivalent: {reason}" if reason else "**not explained**"))
    others = [(n, s) for statuses in results.values() for n, s in statuses.items()
              if s not in KILLED and s not in ("survived", "not checked")]  # fmt: skip
    if others:
        lines += ["", "## Not killed for another reason", ""]
        lines += [f"- `{name}`: {status}" for name, status in others]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mutants", type=Path, default=ROOT / "mutants")
    p.add_argument("--cache", type=Path, default=ROOT / "benchmarks" / "mutation_cache.json",
                   help="results kept by scripts/mutation_cache.py, read when --mutants has none")
    p.add_argument("--equivalents", type=Path, default=ROOT / "benchmarks" / "mutation_equivalents.md")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "mutation.md")
    p.add_argument("--command", default="bash scripts/mutation.sh")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when a mutant survived unexplained, has no test or was not checked")
    args = p.parse_args()
    results = read_results(args.mutants, args.cache)
    if not results:
        p.error(f"no mutmut results under {args.mutants}/src nor in {args.cache} "
                "(run bash scripts/mutation.sh first)")
    equivalents = read_equivalents(args.equivalents)
    known = {name for statuses in results.values() for name in statuses}
    stale = sorted(set(equivalents) - known)
    if stale:
        print(f"note: {len(stale)} listed equivalent(s) are not mutants of this run: {', '.join(stale[:5])}",
              file=sys.stderr)  # fmt: skip
    text = report(results, equivalents, args.command)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    total = sum((tally(s, equivalents) for s in results.values()), Counter())
    return 1 if args.check and (total["survived"] or total["no tests"] or total["not checked"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
