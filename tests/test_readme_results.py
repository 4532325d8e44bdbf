"""The README's results table is generated from a committed report (``skelact reproduce --readme``),
never edited by hand: the committed README holds exactly the table of the report file its marker
names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skelact.errors import ConfigError
from skelact.repro.goals import Goal, goal_for
from skelact.repro.readme import BEGIN, END, begin_marker, marked_source, results_table, update_readme

REPO = Path(__file__).resolve().parents[1]


def readme_source() -> str:
    source = marked_source((REPO / "README.md").read_text(encoding="utf-8"))
    assert source is not None, "README.md has no generated results block"
    return source


def committed_entries() -> list[dict]:
    return json.loads((REPO / readme_source()).read_text(encoding="utf-8"))


def test_committed_readme_holds_the_table_generated_from_the_committed_report(tmp_path):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert (REPO / readme_source()).is_file()
    block = readme.split(begin_marker(readme_source()), 1)[1].split(END, 1)[0].strip()
    assert block == results_table(committed_entries()).strip()
    copy = tmp_path / "README.md"
    copy.write_text(readme, encoding="utf-8")
    assert update_readme(copy, committed_entries(), source=readme_source()) is False  # nothing changes


def test_table_quotes_every_entry_with_its_mean_spread_seeds_and_paper():
    entries = committed_entries()
    table = results_table(entries)
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(entries)
    for row, e in zip(rows, entries, strict=True):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == e["name"]
        assert cells[2].startswith(f"{e['mean']:.1f} ± {e['std']:.1f} ({len(e['seeds'])} seeds)")
        assert cells[3] == " / ".join(f"{e['per_seed'][str(s)]['mean']:.1f}" for s in e["seeds"])
        if e["paper"]:
            assert cells[5].startswith(f"{e['paper']['value']}".rstrip("0").rstrip("."))
        else:
            assert cells[5] == "–"


def test_update_readme_rewrites_only_the_block_and_needs_its_markers(tmp_path):
    entry = {
        "target": "msr3d", "row": "arrn_two_stream", "dataset": "msr3d", "variant": "Real3D",
        "protocol": "AS1-3",
        "name": "Two-stream ARRN-LSTM", "mean": 91.25, "std": 1.5, "seeds": [0, 1], "complete": True,
        "per_seed": {"0": {"mean": 90.0}, "1": {"mean": 92.5}}, "paper": None, "selection": "last epoch",
    }  # fmt: skip
    path = tmp_path / "README.md"
    path.write_text(f"intro\n{begin_marker('old.json')}\nold table\n{END}\noutro\n", encoding="utf-8")
    assert update_readme(path, [entry], source="reports/new.json") is True
    text = path.read_text(encoding="utf-8")
    assert marked_source(text) == "reports/new.json" and BEGIN in text
    assert text.startswith("intro\n") and text.endswith(f"{END}\noutro\n") and "old table" not in text
    assert "| 91.2 ± 1.5 (2 seeds) | 90.0 / 92.5 | ≥ 90.0, std ≤ 2.0 (met) | – |" in text
    assert "- MSRAction3D: last epoch." in text
    assert update_readme(path, [entry], source="reports/new.json") is False
    path.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="README.md"):
        update_readme(path, [entry])


def test_goals_compare_the_mean_and_the_spread():
    two_stream = goal_for("msr3d", "arrn_two_stream")
    assert two_stream is not None
    assert two_stream.met({"mean": 90.0, "std": 2.0})
    assert not two_stream.met({"mean": 89.9, "std": 0.5})
    assert not two_stream.met({"mean": 93.0, "std": 2.1})
    assert not Goal(82.6, strict=True).met({"mean": 82.6})
    assert Goal(82.6, strict=True).met({"mean": 82.61})
    assert goal_for("msr3d", "rrn_joint") is None
