"""scripts/mutation_report.py: benchmarks/results/mutation.md from mutmut's result files."""

from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "mutation_report.py"


@pytest.fixture
def mutation_report():
    spec = importlib.util.spec_from_file_location("mutation_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _meta(root: pathlib.Path, module: str, codes: dict) -> None:
    path = root / "src" / (module.replace(".", "/") + ".py.meta")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes}))


def test_counts_kills_explained_and_unexplained_survivors(mutation_report, tmp_path, monkeypatch):
    mutants = tmp_path / "mutants"
    _meta(mutants, "skelact.models.graph", {"g__mutmut_1": 1, "g__mutmut_2": 0, "g__mutmut_3": 36})
    _meta(mutants, "skelact.models.units", {"u__mutmut_1": 0, "u__mutmut_2": 33, "u__mutmut_3": None})
    _meta(mutants, "skelact.models.__init__", {})
    equivalents = tmp_path / "eq.md"
    equivalents.write_text("# prose\n\n- g__mutmut_2: the same value either way\n")
    out = tmp_path / "mutation.md"
    argv = ["x", "--mutants", str(mutants), "--equivalents", str(equivalents), "--out", str(out)]
    monkeypatch.setattr("sys.argv", argv)
    assert mutation_report.main() == 0
    text = out.read_text()
    assert "**2 of 6 mutants killed (33.3 %)**" in text  # a failing test and a timeout
    assert "| `skelact.models.graph` | 3 | 2 | 1 | 0 | 0 | 0 |" in text
    assert "| `skelact.models.units` | 3 | 0 | 0 | 1 | 1 | 1 |" in text
    assert "skelact.models.__init__" not in text  # nothing to mutate there
    assert "- `g__mutmut_2`: equivalent: the same value either way" in text
    assert "- `u__mutmut_1`: **not explained**" in text
    assert "- `u__mutmut_2`: no tests" in text
    monkeypatch.setattr("sys.argv", [*argv, "--check"])
    assert mutation_report.main() == 1  # an unexplained survivor, a mutant without tests, one unchecked


def test_an_equivalent_listed_twice_is_refused_with_its_line(mutation_report, tmp_path):
    path = tmp_path / "eq.md"
    path.write_text("- a__mutmut_1: x\n- a__mutmut_1: y\n")
    with pytest.raises(SystemExit, match=r"eq.md:2: a__mutmut_1 is listed twice"):
        mutation_report.read_equivalents(path)
