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

from ..data.prepare import DATASETS
from ..errors import ConfigError
from .cache import write_text
from .goals import goal_for
from .templating import render

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

def results_table(entries: Sequence[Mapping[str, Any]]) -> str:
    """One Markdown table of every entry (``templates/readme_results.md.j2``): dataset (first row of
    each), model, top-1 mean ± std over seeds, the per-seed means, the project's goal and the
    paper's number; then each dataset's selection scheme."""
    rows, shown, selections = [], set(), {}
    for e in entries:
        spec = DATASETS.get(str(e["dataset"]))
        name = spec.title if spec else str(e["dataset"])
        key = (str(e["target"]), str(e.get("variant") or ""))
        variant = f", {e['variant']}" if e.get("variant") else ""
        rows.append((e, "" if key in shown else f"{name}{variant} ({e['protocol']})"))
        shown.add(key)
        selections.setdefault(name, e.get("selection"))
    text = render("readme_results.md.j2", {"rows": rows, "selections": selections, "goal_for": goal_for})
    return text.rstrip("\n") + ("" if any(selections.values()) else "\n")


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
    write_text(path, new)
    return True
