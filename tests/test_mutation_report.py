"""scripts/mutation_report.py: benchmarks/results/mutation.md from mutmut's result files."""

from __future__ import annotations

import json
import pathlib

import pytest
from script_modules import load_script

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "mutation_report.py"


@pytest.fixture
def mutation_report():
    return load_script(SCRIPT)


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


CACHE_SCRIPT = SCRIPT.with_name("mutation_cache.py")


@pytest.fixture
def mutation_cache():
    return load_script(CACHE_SCRIPT)


def _mutmut_meta(root: pathlib.Path, source: str, codes: dict, hashes: dict) -> pathlib.Path:
    """A .meta file as mutmut 3.8 writes it."""
    path = root / (source + ".meta")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes, "hash_by_function_name": hashes,
                                "type_check_error_by_key": {}, "durations_by_key": {"x": 1.5},
                                "estimated_durations_by_key": {"x": 2.0}}))  # fmt: skip
    return path


def test_the_cache_carries_results_and_function_hashes_to_a_fresh_clone(mutation_cache, tmp_path):
    old, new, cache = tmp_path / "old" / "mutants", tmp_path / "new" / "mutants", tmp_path / "cache.json"
    graph = "src/skelact/models/graph.py"
    _mutmut_meta(old, graph, {"g__mutmut_1": 1, "g__mutmut_2": None}, {"g": "abc"})
    _mutmut_meta(old, "src/skelact/models/__init__.py", {}, {})
    assert mutation_cache.save(old, cache) == 2
    assert list(json.loads(cache.read_text())["files"]) == [graph]  # nothing mutated in __init__
    assert mutation_cache.restore(cache, new) == 2
    meta = json.loads((new / (graph + ".meta")).read_text())
    assert meta["exit_code_by_key"] == {"g__mutmut_1": 1, "g__mutmut_2": None}
    assert meta["hash_by_function_name"] == {"g": "abc"}  # mutmut keeps a verdict only for this hash
    # exactly the keys mutmut 3.8's SourceFileMutationData.load pops (it refuses any other)
    assert set(meta) == {"exit_code_by_key", "hash_by_function_name", "type_check_error_by_key",
                         "durations_by_key", "estimated_durations_by_key"}  # fmt: skip


def test_restore_keeps_this_sittings_newer_results(mutation_cache, tmp_path):
    mutants, cache = tmp_path / "mutants", tmp_path / "cache.json"
    graph = "src/skelact/models/graph.py"
    _mutmut_meta(mutants, graph, {"g__mutmut_1": None}, {"g": "abc"})
    mutation_cache.save(mutants, cache)
    _mutmut_meta(mutants, graph, {"g__mutmut_1": 1}, {"g": "abc"})
    assert mutation_cache.restore(cache, mutants) == 0
    assert json.loads((mutants / (graph + ".meta")).read_text())["exit_code_by_key"] == {"g__mutmut_1": 1}
    assert mutation_cache.restore(tmp_path / "absent.json", tmp_path / "m2") == 0


def test_saving_without_results_refuses_and_keeps_the_cache(mutation_cache, tmp_path):
    cache = tmp_path / "cache.json"
    cache.write_text("kept")
    with pytest.raises(SystemExit, match="no mutmut results"):
        mutation_cache.save(tmp_path / "mutants", cache)
    assert cache.read_text() == "kept"


def test_the_report_is_written_from_the_cache_where_there_is_no_mutants_folder(
        mutation_report, mutation_cache, tmp_path, monkeypatch):  # fmt: skip
    old = tmp_path / "old"
    _mutmut_meta(old, "src/skelact/models/graph.py", {"g__mutmut_1": 1, "g__mutmut_2": 0}, {"g": "a"})
    cache = tmp_path / "cache.json"
    mutation_cache.save(old, cache)
    equivalents = tmp_path / "eq.md"
    equivalents.write_text("")
    out = tmp_path / "mutation.md"
    monkeypatch.setattr("sys.argv", ["x", "--mutants", str(tmp_path / "none"), "--cache", str(cache),
                                     "--equivalents", str(equivalents), "--out", str(out)])  # fmt: skip
    assert mutation_report.main() == 0
    assert "| `skelact.models.graph` | 2 | 1 | 0 | 1 | 0 | 0 |" in out.read_text()
