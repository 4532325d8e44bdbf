"""The README's results table quotes the committed report: every rerun number in it must be the
report's, as the report rounds it, with the report's number of seeds; so must the attention-mask
differences and the Florence3D seed-by-seed table in the notes below it."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

from skelact.repro.report import signed_points

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


def results_section() -> str:
    """The README's *Results* section: its table and the notes below it."""
    text = (REPO / "README.md").read_text()
    return text.split("## Results\n", 1)[1].split("\n## ", 1)[0]


def readme_rows() -> list[tuple[str, str, str]]:
    """(target, model cell, rerun cell) of each row of the table under *Results*."""
    rows, target = [], None
    for line in results_section().splitlines():
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


#: README ablation bullet -> (stream word, ARRN row) in the order the bullet names them.
ABLATION_STREAMS = {"two-stream": "arrn_two_stream", "line": "arrn_line", "joint": "arrn_joint"}
ABLATION = re.compile(
    rf"^\s*- ({'|'.join(DATASETS)}), (\d+) pairs[^:]*:\s*(.*?)(?=\n\s*- |\n\n|\Z)", re.M | re.S
)
DIFFERENCE = re.compile(rf"({'|'.join(ABLATION_STREAMS)})\s+([+-]\d+\.\d)\s+±\s+(\d+\.\d)")


def readme_ablation_notes() -> list[tuple[str, int, list[tuple[str, str, str]]]]:
    """(target, pairs, [(stream, difference, standard error)]) of each attention-mask bullet."""
    notes = results_section().split("The attention mask (ARRN minus RRN", 1)[1]
    return [
        (DATASETS[name], int(pairs), DIFFERENCE.findall(body.split("(the first", 1)[0]))
        for name, pairs, body in ABLATION.findall(notes)
    ]


def test_readme_ablation_notes_are_found():
    assert {t for t, _, _ in readme_ablation_notes()} == set(DATASETS.values())


@pytest.mark.parametrize("target,pairs,differences", readme_ablation_notes(), ids=lambda v: str(v)[:20])
def test_readme_ablation_numbers_are_the_report_numbers(target, pairs, differences):
    assert [s for s, _, _ in differences] == list(ABLATION_STREAMS), differences
    for stream, difference, error in differences:
        ablation = report_entries()[(target, ABLATION_STREAMS[stream])]["vs_without_attention"]
        where = f"{target} {stream}"
        assert pairs == ablation["pairs"], f"{where}: README {pairs} pairs, report {ablation['pairs']}"
        report = signed_points(ablation["mean_difference"]), f"{ablation['standard_error']:.1f}"
        assert (difference, error) == report, f"{where}: README {difference} ± {error}, report {report}"


#: README per-seed model cell -> report row (the Florence3D seed-by-seed table in the notes).
PER_SEED_ROWS = {
    "two-stream ARRN-LSTM": "arrn_two_stream",
    "joint stream (ARRN)": "arrn_joint",
    "line stream (ARRN)": "arrn_line",
    "two-stream RRN-LSTM (attention off)": "rrn_two_stream",
    "joint stream (RRN)": "rrn_joint",
    "line stream (RRN)": "rrn_line",
    "AS-GCN (not in the papers)": "asgcn",
}
PER_SEED_HEADER = re.compile(r"^\s+\| model \| (seed \d(?: \| seed \d)*) \| first run, seed 0 \|$", re.M)


def readme_per_seed_table() -> tuple[list[int], list[list[str]]]:
    """(seeds of the header, cells of each row) of the Florence3D seed-by-seed table in the notes."""
    section = results_section()
    header = PER_SEED_HEADER.search(section)
    assert header, "the Florence3D seed-by-seed table is not in the README's results notes"
    seeds = [int(s.removeprefix("seed ")) for s in header.group(1).split(" | ")]
    rows = []
    for line in section[header.end() :].splitlines()[2:]:
        if not line.strip().startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return seeds, rows


@functools.cache
def first_run_entries() -> dict[tuple[str, str], dict]:
    """The first run's report (kept unchanged under reports/earlier/) by (target, row)."""
    path = REPO / "reports" / "earlier" / "2026-11-23" / "reproduction.json"
    return {(e["target"], e["row"]): e for e in json.loads(path.read_text())}


def per_seed_cell(entry: dict, seed: int) -> str:
    """What the README shows for one seed: the mean of a complete seed, the folds so far of a
    running one, '–' for one not started."""
    result = entry["per_seed"].get(str(seed))
    if result is None:
        return "–"
    if seed in entry["seeds"]:
        return f"{result['mean']:.1f}"
    return f"{result['mean']:.1f} ({len(result['folds'])} of {entry['units_planned']} folds)"


def test_readme_per_seed_table_covers_every_row_and_seed():
    seeds, rows = readme_per_seed_table()
    assert [r[0] for r in rows] == list(PER_SEED_ROWS)
    for row in PER_SEED_ROWS.values():
        reported = {int(s) for s in report_entries()[("florence3d", row)]["per_seed"]}
        assert reported <= set(seeds), f"florence3d {row}: seeds {sorted(reported)} not all in the README"


@pytest.mark.parametrize("cells", readme_per_seed_table()[1], ids=lambda c: c[0])
def test_readme_per_seed_numbers_are_the_report_numbers(cells):
    seeds, _ = readme_per_seed_table()
    row = PER_SEED_ROWS[cells[0]]
    entry = report_entries()[("florence3d", row)]
    assert len(cells) == len(seeds) + 2, f"florence3d {row}: {cells}"
    for seed, cell in zip(seeds, cells[1:-1], strict=True):
        expected = per_seed_cell(entry, seed)
        assert cell == expected, f"florence3d {row} seed {seed}: README {cell!r}, report {expected!r}"
    first = first_run_entries().get(("florence3d", row))
    expected = f"{first['per_seed']['0']['mean']:.1f}" if first else "not run"
    assert cells[-1] == expected, f"florence3d {row} first run: README {cells[-1]!r}, report {expected!r}"
