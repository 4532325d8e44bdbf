"""The README's results table, generated from the reproduction report's entries (never edited by hand).

``skelact reproduce ... --readme README.md`` (also with ``--report-only``) rewrites the block between
the begin marker (:func:`begin_marker`, which names the report file the table comes from) and
:data:`END` in the README with :func:`results_table` of the entries it has just written;
``tests/test_readme_results.py`` checks that the committed README holds exactly the table of the
report file its marker names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .goals import goal_for

__all__ = ["BEGIN", "END", "begin_marker", "marked_source", "results_table", "update_readme"]

BEGIN = "<!-- results: generated from "
END = "<!-- end of results -->"


def begin_marker(source: str) -> str:
    """The line that opens the generated block and names the report file it comes from."""
    return f"{BEGIN}{source} by skelact reproduce --readme -->"


def marked_source(text: str) -> str | None:
    """The report file named by the begin marker in ``text`` (None without a marker)."""
    start = text.find(BEGIN)
    if start < 0:
        return None
    line = text[start:].split("\n", 1)[0]
    return line[len(BEGIN) :].split(" by skelact reproduce", 1)[0]

DATASET_NAMES = {
    "msr3d": "MSRAction3D",
    "florence3d": "Florence3D",
    "ntu60": "NTU RGB+D 60",
    "ntu120": "NTU RGB+D 120",
    "kinetics": "Kinetics-skeleton",
}


def _value(entry: Mapping[str, Any]) -> str:
    seeds = [str(s) for s in entry.get("seeds") or []]
    n = len(seeds)
    text = f"{entry['mean']:.1f}" + (f" ± {entry['std']:.1f}" if n > 1 else "")
    text += f" ({n} seed{'s' if n != 1 else ''})"
    return text if entry.get("complete", True) else f"{text}, partial"


def _per_seed(entry: Mapping[str, Any]) -> str:
    per_seed = entry.get("per_seed") or {}
    seeds = [str(s) for s in entry.get("seeds") or [] if str(s) in per_seed]
    return " / ".join(f"{per_seed[s]['mean']:.1f}" for s in seeds)


def _paper(entry: Mapping[str, Any]) -> str:
    paper = entry.get("paper")
    if not paper:
        return "–"
    value = f"{paper['value']:.2f}".rstrip("0")
    value += "0" if value.endswith(".") else ""
    return value + ("" if paper.get("comparable", True) else " (other data)")


def _goal(entry: Mapping[str, Any]) -> str:
    goal = goal_for(str(entry["target"]), str(entry["row"]))
    if goal is None:
        return "–"
    met = goal.met(entry)
    return f"{goal.text} ({'met' if met else 'not met'})"


def results_table(entries: Sequence[Mapping[str, Any]]) -> str:
    """One Markdown table of every entry: dataset (first row of each), model, top-1 mean ± std over
    seeds, the per-seed means, the project's goal and the paper's number."""
    lines = [
        "| dataset | model | top-1 % (mean ± std over seeds) | per seed | goal | paper |",
        "|---|---|---|---|---|---|",
    ]
    shown: set[tuple[str, str]] = set()
    for e in entries:
        key = (str(e["target"]), str(e.get("variant") or ""))
        dataset = ""
        if key not in shown:
            shown.add(key)
            name = DATASET_NAMES.get(str(e["dataset"]), str(e["dataset"]))
            variant = f", {e['variant']}" if e.get("variant") else ""
            dataset = f"{name}{variant} ({e['protocol']})"
        lines.append(f"| {dataset} | {e['name']} | {_value(e)} | {_per_seed(e)} | {_goal(e)} | {_paper(e)} |")
    lines.append("")
    selections = {}
    for e in entries:
        selections.setdefault(DATASET_NAMES.get(str(e["dataset"]), str(e["dataset"])), e.get("selection"))
    lines += [f"- {name}: {text}." for name, text in selections.items() if text]
    return "\n".join(lines)


def update_readme(
    path: str | os.PathLike, entries: Sequence[Mapping[str, Any]], source: str = "reports/reproduction.json"
) -> bool:
    """Replace the generated block of the README at ``path`` with :func:`results_table` of
    ``entries``, its begin marker naming ``source``; True when the file changed. The README must
    hold one begin marker (:data:`BEGIN` ...) and, after it, one :data:`END`."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start or text.count(BEGIN) != 1 or text.count(END) != 1:
        marker = begin_marker("REPORT.json")
        raise ConfigError(f"{path}: needs one line {marker!r} and, after it, one line {END!r}")
    new = text[:start] + begin_marker(source) + "\n\n" + results_table(entries) + "\n\n" + text[end:]
    if new == text:
        return False
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, path)
    return True
