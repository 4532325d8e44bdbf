"""The README's results table quotes the committed report: every rerun number in it must be the
report's, as the report rounds it, with the report's number of seeds."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: README model cell -> the report rows it quotes, in the order of its values ("line / joint").
MODEL_ROWS = {
    "two-stream ARRN-LSTM": ["arrn_two_stream"],
    "line stream (ARRN)": ["arrn_line"],
    "joint stream (ARRN)": ["arrn_joint"],
    "AS-GCN (not in the papers)": ["asgcn"],
    "two-stream RRN-LSTM (attention off)": ["rrn_two_stream"],
    "line / joint stream (RRN)": ["rrn_line", "rrn_joint"],
}
DATASETS = {"MSRAction3D": "msr3d", "Florence3D": "florence3d"}
VALUE = re.compile(r"(\d+\.\d)(?: ± (\d+\.\d))?")
SEEDS = re.compile(r"\((\d) seeds?\b")


def readme_rows() -> list[tuple[str, str, str]]:
    """(target, model cell, rerun cell) of each row of the table under *Results so far*."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Results so far", 1)[1].split("\n## ", 1)[0]
    rows, target = [], None
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 5 or cells[1] in ("model", "---"):
            continue
        if cells[0]:
            target = next(t for name, t in DATASETS.items() if cells[0].startswith(name))
        rows.append((target, cells[1], cells[2]))
    return rows


@functools.cache
def report_entries() -> dict[tuple[str, str], dict]:
    """The committed report's entries by (target, row), read once for all the cases."""
    entries = json.loads((REPO / "reports" / "reproduction.json").read_text())
    return {(e["target"], e["row"]): e for e in entries}


def test_readme_table_is_found():
    rows = readme_rows()
    assert {t for t, _, _ in rows} == set(DATASETS.values())
    assert len(rows) >= 8


@pytest.mark.parametrize("target,model,cell", readme_rows(), ids=lambda v: str(v)[:30])
def test_readme_rerun_numbers_are_the_report_numbers(target, model, cell):
    entries = [report_entries()[(target, row)] for row in MODEL_ROWS[model]]
    values = VALUE.findall(cell.split("(", 1)[0])
    assert len(values) == len(entries), f"{model}: {cell!r}"
    (seeds,) = SEEDS.findall(cell)
    for entry, (mean, std) in zip(entries, values, strict=True):
        where, n = f"{target} {entry['row']}", len(entry["seeds"])
        assert int(seeds) == n, f"{where}: README says {seeds} seed(s), the report {n}"
        assert mean == f"{entry['mean']:.1f}", f"{where}: README {mean}, report {entry['mean']:.1f}"
        if n > 1:
            assert std == f"{entry['std']:.1f}", f"{where}: README ± {std}, report {entry['std']:.1f}"
        else:
            assert not std, f"{where}: a standard deviation from one seed"
        assert ("so far" in cell) == (not entry["complete"]), f"{where}: 'so far' but complete, or not"
