"""``benchmarks/bench_asgcn_official.py``'s report: the ratios it prints and the one section of
``benchmarks/results/asgcn.md`` it owns (``bench_asgcn.py`` keeps that section when it rewrites the
rest). The measurement itself (minutes of training steps) runs outside the suite."""

from __future__ import annotations

import argparse
import pathlib

import pytest
from script_modules import load_script

REPO = pathlib.Path(__file__).resolve().parents[1]


def _load(name: str):
    """A benchmark script as a module (its helpers beside it importable, as when it runs)."""
    return load_script(REPO / "benchmarks" / f"{name}.py")


@pytest.fixture(scope="module")
def bench():
    return _load("bench_asgcn_official")


def _results():
    def child(times, peak, base, params):
        return {"times": times, "peak_gib": peak, "base_gib": base, "params": params}

    return {  # two rounds each: the fastest child's median and the largest peak count
        (1, "ours"): [child([2.0, 1.0, 1.2], 1.5, 0.5, 7), child([3.0, 3.0, 3.0], 1.6, 0.5, 7)],
        (1, "ours-stored"): [child([1.5, 1.5, 1.5], 2.5, 0.5, 7), child([1.4, 1.4, 1.4], 2.0, 0.5, 7)],
        (1, "official"): [child([4.0, 3.6, 3.8], 4.0, 1.0, 9), child([3.7, 3.9, 3.9], 3.2, 1.0, 9)],
        (1, "official-kept"): [child([2.4, 2.4, 2.4], 4.8, 1.0, 9)],
        # 2 threads: ratios against the official code at 2 threads, not at 1
        (2, "ours"): [child([0.5, 0.5, 0.5], 1.7, 0.5, 7)],
        (2, "official"): [child([2.0, 2.0, 2.0], 4.2, 1.0, 9)],
    }


def test_rows_give_speed_and_memory_against_the_official_code_per_thread_count(bench):
    args = argparse.Namespace(batch=4, warmup=2, steps=3, rounds=2, threads=[1, 2])
    text = bench.render(_results(), args, "abc123")
    cells = [line.split(" | ") for line in text.splitlines() if line.startswith("| ")]
    rows = {(row[0].lstrip("| "), row[1]): row for row in cells}
    ours = rows[("1", "skelact, `official` preset")]
    # s/step 1.2 (median of the faster child); official 3.8, with keep_freed_memory 2.4; peak 1.6 of
    # 4.0 (memory against the official code as it ships); step peak 1.1
    assert ours[3:9] == ["1.20", "3.17x", "2.00x", "1.60", "1.10", "0.40 |"]
    stored = rows[("1", "skelact, `official` preset, graph products stored (`recompute=False`)")]
    assert stored[3:6] == ["1.40", "2.71x", "1.71x"] and stored[6] == "2.50"
    official = rows[("1", "official code (limaosen0/AS-GCN)")]
    assert official[3:6] == ["3.80", "1.00x", "0.63x"] and official[2] == "9"
    assert rows[("1", "official code, `keep_freed_memory()`")][3:7] == ["2.40", "1.58x", "1.00x", "4.80"]
    # 2 threads: no official-kept child, its column stays empty
    assert rows[("2", "skelact, `official` preset")][3:9] == ["0.50", "4.00x", "", "1.70", "1.20", "0.40 |"]
    assert rows[("2", "official code (limaosen0/AS-GCN)")][3:5] == ["2.00", "1.00x"]
    assert ("2", "skelact, `official` preset, graph products stored (`recompute=False`)") not in rows
    assert [r[0].lstrip("| ") for r in cells[1:]] == ["1", "1", "1", "1", "2", "2"]  # after the header
    assert "--threads 1 2`" in text and "1, 2 thread(s) per child" in text
    assert text.startswith(bench.BEGIN) and text.endswith(bench.END) and "@ abc123" in text


def test_the_section_is_replaced_in_place_and_kept_by_the_other_benchmark(bench, tmp_path):
    out = tmp_path / "asgcn.md"
    out.write_text("# AS-GCN benchmark\n\nother tables\n")
    bench.write_section(f"{bench.BEGIN}\nfirst\n{bench.END}", out)
    assert out.read_text() == f"# AS-GCN benchmark\n\nother tables\n\n{bench.BEGIN}\nfirst\n{bench.END}\n"
    bench.write_section(f"{bench.BEGIN}\nsecond\n{bench.END}", out)
    assert out.read_text() == f"# AS-GCN benchmark\n\nother tables\n\n{bench.BEGIN}\nsecond\n{bench.END}\n"

    keep = _load("bench_asgcn").keep_official_section
    assert keep("# new tables\n", out.read_text()) == f"# new tables\n\n{bench.BEGIN}\nsecond\n{bench.END}\n"
    assert keep("# new tables", "# no section") == "# new tables"


def test_a_before_revision_gets_its_row_its_ratio_to_this_checkout_and_its_flag_in_the_command(bench):
    def child(median):
        return {"times": [median] * 3, "peak_gib": 1.0, "base_gib": 0.5, "params": 7}

    results = {(1, "ours"): [child(2.0)], (1, "before"): [child(3.0)], (1, "official"): [child(6.0)],
               (2, "ours"): [child(1.0)], (2, "official"): [child(2.5)]}
    args = argparse.Namespace(batch=4, warmup=2, steps=3, rounds=2, threads=[1, 2], before="abc1234")
    text = bench.render(results, args, "def")
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| 1 | skelact at")]
    label = "skelact at `abc1234` (`--before`), `official` preset"
    assert [r[1:5] for r in rows] == [[label, "7", "3.00", "2.00x"]]
    # only where both ran: 3.0 / 2.0 at 1 thread, no before child at 2
    assert "This checkout against `abc1234`: 1.50x at 1 thread(s) (the same step" in text
    assert "--threads 1 2 --before abc1234`" in text


def test_export_src_writes_a_revisions_source_tree(bench, tmp_path):
    src = bench.export_src("HEAD", tmp_path)
    assert src == tmp_path / "src" and (src / "skelact" / "models" / "asgcn" / "links.py").is_file()


@pytest.mark.parametrize("key, recompute", [("ours", True), ("before", True), ("ours-stored", False)])
def test_only_the_stored_configuration_turns_the_recomputation_off(bench, monkeypatch, key, recompute):
    import skelact.models
    from skelact.models.asgcn.links import ASGC

    built = []
    build = skelact.models.build
    monkeypatch.setattr(skelact.models, "build", lambda *a, **kw: built.append(build(*a, **kw)) or built[-1])
    bench.build_step(key, 1, None)
    layers = [m for m in built[0].modules() if isinstance(m, ASGC)]
    assert layers and {m.recompute for m in layers} == {recompute}
